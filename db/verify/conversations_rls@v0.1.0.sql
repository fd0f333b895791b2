-- Verify chat:conversations_rls on pg

begin;

select 1 / (count(*) = 5)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'conversations'
   and policyname in ('conversations_select', 'conversations_insert', 'conversations_update',
                      'conversations_delete', 'conversations_audit');

rollback;
