-- Verify chat:users_rls on pg (reworked)

begin;

-- (expressions printed as from an empty search_path: schema-qualified)
set local search_path = pg_catalog;

-- the runtime role's four policies, each comparing the row's user with the
-- current one bare (no sub-select), and the auditor's
select 1 / (count(*) = 4)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'users'
   and policyname in ('users_select', 'users_insert', 'users_update', 'users_delete')
   and coalesce(qual, with_check) = '(id = chat.current_user_id())'
   and coalesce(with_check, qual) = '(id = chat.current_user_id())';

select 1 / count(*)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'users' and policyname = 'users_audit';

rollback;
