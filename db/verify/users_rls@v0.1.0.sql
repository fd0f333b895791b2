-- Verify chat:users_rls on pg

begin;

select 1 / (count(*) = 5)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'users'
   and policyname in ('users_select', 'users_insert', 'users_update', 'users_delete', 'users_audit');

rollback;
