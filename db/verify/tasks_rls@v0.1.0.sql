-- Verify chat:tasks_rls on pg

begin;

select 1 / (count(*) = 5)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'tasks'
   and policyname in ('tasks_select', 'tasks_insert', 'tasks_update', 'tasks_delete', 'tasks_audit');

rollback;
