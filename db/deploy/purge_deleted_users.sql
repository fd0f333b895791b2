-- Deploy chat:purge_deleted_users to pg
-- requires: deleted_users
-- requires: operator_role
--
-- A tombstone is needed only while a token issued before its deletion can
-- still be valid: once older than the longest lifetime the service accepts
-- (JWT_MAX_AGE), it only keeps a user id for nothing. Operators forget those
-- (make purge passes that lifetime). As purge_inactive, the function runs
-- with its owner's rights, so that chat_operator holds no privilege on any
-- table; its only filter is the cutoff.

begin;

create function chat.purge_deleted_users(older_than interval)
returns bigint as $$
declare
  v_deleted bigint;
begin
  if purge_deleted_users.older_than is null or purge_deleted_users.older_than <= interval '0' then
    raise exception 'older_than must be a positive interval, not %',
                    coalesce(purge_deleted_users.older_than::text, 'NULL')
      using errcode = '22023', column = 'older_than';
  end if;

  delete from chat.deleted_users d
   where d.deleted_at < pg_catalog.now() - purge_deleted_users.older_than;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat.purge_deleted_users(interval) is
  'Operators only: forgets the tombstones of accounts deleted longer than older_than ago (pass the longest token lifetime the service accepts); returns how many. Runs with its owner''s rights.';

-- An owner that does not bypass row security gets the two policies the purge
-- needs, for itself alone (as purge_inactive's owner does).
do $$
begin
  if not exists (select from pg_catalog.pg_roles
                  where rolname = current_user and (rolsuper or rolbypassrls)) then
    execute pg_catalog.format(
      'create policy deleted_users_owner_purge_select on chat.deleted_users for select to %I using (true)',
      current_user);
    execute pg_catalog.format(
      'create policy deleted_users_owner_purge_delete on chat.deleted_users for delete to %I using (true)',
      current_user);
    comment on policy deleted_users_owner_purge_select on chat.deleted_users is
      'purge_deleted_users, running with the rights of an owner that does not bypass row security, finds old tombstones.';
    comment on policy deleted_users_owner_purge_delete on chat.deleted_users is
      'purge_deleted_users, running with the rights of an owner that does not bypass row security, deletes old tombstones.';
  end if;
end
$$;

revoke all on function chat.purge_deleted_users(interval) from public;
grant execute on function chat.purge_deleted_users(interval) to chat_operator;

commit;
