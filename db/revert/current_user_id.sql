-- Revert chat:current_user_id from pg (reworked)
--
-- Back to schema chat, require_user_id naming chat.current_user_id again.

begin;

create or replace function chat_private.require_user_id() returns uuid as $$
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

alter function chat_private.require_user_id() set schema chat;
alter function chat_private.current_user_id() set schema chat;

commit;
