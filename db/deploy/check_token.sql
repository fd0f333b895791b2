-- Deploy chat:check_token to pg (reworked)
-- requires: check_token@v0.5.0
-- requires: current_user_id
--
-- As before, but asking require_user_id where it now lives, in chat_private:
-- a plpgsql body names what it calls, so it follows no move. What it
-- refuses (28000) and when, as before.

begin;

create or replace function chat.check_token(issued_at timestamptz)
returns void as $$
begin
  if exists (select from chat.deleted_users d
              where d.user_id = chat_private.require_user_id()
                and (check_token.issued_at is null or d.deleted_at >= check_token.issued_at)) then
    raise exception 'this account was deleted after the token was issued; sign in again'
      using errcode = '28000';
  end if;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
