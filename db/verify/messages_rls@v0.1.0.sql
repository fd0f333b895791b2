-- Verify chat:messages_rls on pg

begin;

select 1 / (count(*) = 5)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'messages'
   and policyname in ('messages_select', 'messages_insert', 'messages_update',
                      'messages_delete', 'messages_audit');

rollback;
