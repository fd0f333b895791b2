-- Verify chat:conversations_rls on pg (reworked)

begin;

-- (expressions printed as from an empty search_path: schema-qualified)
set local search_path = pg_catalog;

-- the runtime role's four policies, each comparing the row's user with the
-- current one bare (no sub-select), asked of chat_private, and the auditor's
select 1 / (count(*) = 4)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'conversations'
   and policyname in ('conversations_select', 'conversations_insert', 'conversations_update', 'conversations_delete')
   and coalesce(qual, with_check) = '(user_id = chat_private.current_user_id())'
   and coalesce(with_check, qual) = '(user_id = chat_private.current_user_id())';

select 1 / count(*)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'conversations' and policyname = 'conversations_audit';

-- each of the four says what it does
select 1 / (count(*) = 4)::int
  from pg_catalog.pg_policy p
 where p.polrelid = 'chat.conversations'::regclass
   and p.polname in ('conversations_select', 'conversations_insert', 'conversations_update', 'conversations_delete')
   and pg_catalog.obj_description(p.oid, 'pg_policy') like 'chat_app %';

rollback;
