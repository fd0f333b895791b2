-- Deploy chat:delete_user to pg (reworked)
-- requires: delete_user@v0.5.0
-- requires: current_user_id
--
-- As before, but asking require_user_id where it now lives, in chat_private:
-- a plpgsql body names what it calls, so it follows no move. The deletion
-- and its tombstone, as before.

begin;

create or replace function chat.delete_user()
returns boolean as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_deleted boolean;
begin
  delete from chat.users u
   where u.id = v_user_id;
  v_deleted := found;

  insert into chat.deleted_users (user_id)
  values (v_user_id)
  on conflict (user_id) do update
    set deleted_at = excluded.deleted_at;
  return v_deleted;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
