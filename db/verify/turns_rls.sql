-- Verify chat:turns_rls on pg

begin;

select 1 / (count(*) = 5)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'turns'
   and policyname in ('turns_select', 'turns_insert', 'turns_update', 'turns_delete', 'turns_audit');

rollback;
