-- Verify chat:messages_rls on pg (reworked)

begin;

-- (expressions printed as from an empty search_path: schema-qualified)
set local search_path = pg_catalog;

-- the runtime role's four policies, each comparing the row's user with the
-- current one bare (no sub-select), asked of chat_private, and the auditor's
select 1 / (count(*) = 4)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'messages'
   and policyname in ('messages_select', 'messages_insert', 'messages_update', 'messages_delete')
   and coalesce(qual, with_check) = '(user_id = chat_private.current_user_id())'
   and coalesce(with_check, qual) = '(user_id = chat_private.current_user_id())';

select 1 / count(*)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'messages' and policyname = 'messages_audit';

-- each of the four says what it does
select 1 / (count(*) = 4)::int
  from pg_catalog.pg_policy p
 where p.polrelid = 'chat.messages'::regclass
   and p.polname in ('messages_select', 'messages_insert', 'messages_update', 'messages_delete')
   and pg_catalog.obj_description(p.oid, 'pg_policy') like 'chat_app %';

rollback;
