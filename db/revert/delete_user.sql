-- Revert chat:delete_user from pg (reworked)
--
-- Back to the body of delete_user@v0.5.0, which names require_user_id
-- in chat (the revert of current_user_id, which runs after this one,
-- brings it back there).

begin;

create or replace function chat.delete_user()
returns boolean as $$
declare
  v_user_id uuid := chat.require_user_id();
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
