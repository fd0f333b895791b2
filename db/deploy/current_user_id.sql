-- Deploy chat:current_user_id to pg (reworked)
-- requires: current_user_id@v0.5.0
-- requires: private_schema
--
-- The current user is read in one place, as before; that place is now
-- chat_private, beside the other helpers, since no program but the API's own
-- functions and policies asks it. The policies and the tables' column
-- defaults name the function by its oid and follow it. require_user_id, a
-- plpgsql body that names what it calls, now names chat_private.

begin;

alter function chat.current_user_id() set schema chat_private;
alter function chat.require_user_id() set schema chat_private;

create or replace function chat_private.require_user_id() returns uuid as $$
declare
  v_user_id uuid := chat_private.current_user_id();
begin
  if v_user_id is null then
    raise exception 'no current user: app.user_id is not set'
      using errcode = '42501',
            hint = 'Call set_config(''app.user_id'', <user uuid>, true) in the same transaction first.';
  end if;
  return v_user_id;
end
$$ language plpgsql stable parallel safe security invoker set search_path = pg_catalog, pg_temp;

commit;
