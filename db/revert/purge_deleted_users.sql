-- Revert chat:purge_deleted_users from pg

begin;

-- the owner's own policies, where the deploy made them
do $$
declare
  p record;
begin
  for p in select policyname from pg_catalog.pg_policies
            where schemaname = 'chat' and tablename = 'deleted_users'
              and policyname in ('deleted_users_owner_purge_delete', 'deleted_users_owner_purge_select')
            order by policyname
  loop
    execute pg_catalog.format('drop policy %I on chat.deleted_users', p.policyname);
  end loop;
end
$$;

drop function chat.purge_deleted_users(interval);

commit;
