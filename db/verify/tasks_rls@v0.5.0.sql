-- Verify chat:tasks_rls on pg (reworked)

begin;

-- (expressions printed as from an empty search_path: schema-qualified)
set local search_path = pg_catalog;

-- the runtime role's four policies, each comparing the row's user with the
-- current one bare (no sub-select), and the auditor's
select 1 / (count(*) = 4)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'tasks'
   and policyname in ('tasks_select', 'tasks_insert', 'tasks_update', 'tasks_delete')
   and coalesce(qual, with_check) = '(user_id = chat.current_user_id())'
   and coalesce(with_check, qual) = '(user_id = chat.current_user_id())';

select 1 / count(*)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'tasks' and policyname = 'tasks_audit';

rollback;
