-- Deploy chat:check_token to pg
-- requires: deleted_users
--
-- The one place that decides whether a token may still act for its user:
-- not when the account was deleted after the token was issued. The backend
-- calls it in every request's transaction, with the earliest time the token
-- may have been issued (its iat, less the clocks' drift): a token that may
-- predate the deletion is refused. provision_user calls it
-- before it makes a user. A time that is not known (NULL) is refused when a
-- tombstone exists: fail closed. A primary-key probe of a table that holds
-- only the recent deletions.

begin;

create function chat.check_token(issued_at timestamptz)
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

comment on function chat.check_token(timestamptz) is
  'Raises 28000 when the current user''s account was deleted at or after issued_at (or issued_at is NULL and it was deleted): a token issued before a deletion cannot act, nor bring the account back.';

revoke all on function chat.check_token(timestamptz) from public;
grant execute on function chat.check_token(timestamptz) to chat_app;

commit;
