-- Deploy chat:current_user_id to pg
-- requires: chat_schema
--
-- The current user is the transaction-local setting app.user_id, set by the
-- backend with set_config('app.user_id', …, true) so that it cannot outlive
-- the transaction behind a transaction-mode pooler. This is the only place
-- that reads it: policies call current_user_id(), functions call
-- require_user_id(), which also refuses to act for nobody.

begin;

-- Unset and empty both mean "nobody": RLS then matches no row (fail closed).
-- A value that is not a uuid raises 22P02 rather than matching anything.
create function chat.current_user_id() returns uuid as $$
  select nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
$$ language sql stable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.current_user_id() is
  'The current user: the transaction-local setting app.user_id as a uuid, NULL when unset or empty.';

-- The SQL API acts for someone or not at all.
create function chat.require_user_id() returns uuid as $$
declare
  v_user_id uuid := chat.current_user_id();
begin
  if v_user_id is null then
    raise exception 'no current user: app.user_id is not set'
      using errcode = '42501',
            hint = 'Call set_config(''app.user_id'', <user uuid>, true) in the same transaction first.';
  end if;
  return v_user_id;
end
$$ language plpgsql stable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.require_user_id() is
  'The current user (app.user_id); raises 42501 when it is unset or empty.';

revoke all on function chat.current_user_id() from public;
revoke all on function chat.require_user_id() from public;
grant execute on function chat.current_user_id() to chat_app;
grant execute on function chat.require_user_id() to chat_app;

commit;
