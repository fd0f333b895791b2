-- Revert chat:check_token from pg (reworked)
--
-- Back to the body of check_token@v0.5.0, which names require_user_id
-- in chat (the revert of current_user_id, which runs after this one,
-- brings it back there).

begin;

create or replace function chat.check_token(issued_at timestamptz)
returns void as $$
begin
  if exists (select from chat.deleted_users d
              where d.user_id = chat.require_user_id()
                and (check_token.issued_at is null or d.deleted_at >= check_token.issued_at)) then
    raise exception 'this account was deleted after the token was issued; sign in again'
      using errcode = '28000';
  end if;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
