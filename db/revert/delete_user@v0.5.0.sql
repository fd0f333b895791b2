-- Revert chat:delete_user from pg (reworked)
--
-- Back to delete_user@v0.4.0: the deletion without a tombstone.

begin;

create or replace function chat.delete_user()
returns boolean as $$
declare
  v_user_id uuid := chat.require_user_id();
begin
  delete from chat.users u
   where u.id = v_user_id;
  return found;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.delete_user() is
  'Deletes the current user and, by cascade, everything of theirs; true if there was a row.';

commit;
