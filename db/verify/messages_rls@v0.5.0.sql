-- Verify chat:messages_rls on pg (reworked)

begin;

-- (expressions printed as from an empty search_path: schema-qualified)
set local search_path = pg_catalog;

-- the runtime role's four policies, each comparing the row's user with the
-- current one bare (no sub-select), and the auditor's
select 1 / (count(*) = 4)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'messages'
   and policyname in ('messages_select', 'messages_insert', 'messages_update', 'messages_delete')
   and coalesce(qual, with_check) = '(user_id = chat.current_user_id())'
   and coalesce(with_check, qual) = '(user_id = chat.current_user_id())';

select 1 / count(*)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'messages' and policyname = 'messages_audit';

rollback;
