-- Deploy chat:delete_user to pg (reworked)
-- requires: delete_user@v0.4.0
-- requires: deleted_users
--
-- The deletion as before (the user's row, and by cascade everything of
-- theirs), and in the same transaction its tombstone: the user's id and the
-- time, nothing personal. Without it the tokens issued before the deletion,
-- still valid for a while, would provision the account again on their next
-- request. A deletion is recorded even when the row was already gone (never
-- provisioned, or deleted by another request meanwhile); a later one, after a
-- newer token brought the account back, moves the time.

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

comment on function chat.delete_user() is
  'Deletes the current user and, by cascade, everything of theirs, and records the deletion (chat.deleted_users) so that tokens issued before it are refused; true if there was a row.';

commit;
