-- Verify chat:purge_inactive on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_operator', 'chat.purge_inactive(interval, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('chat_app', 'chat.purge_inactive(interval, integer)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_auditor', 'chat.purge_inactive(interval, integer)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.purge_inactive(interval, integer)', 'execute'))::int;
select 1 / (count(*) = 2)::int from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'conversations' and 'chat_operator' = any(roles);

select 1 / pg_catalog.has_table_privilege('chat_operator', 'chat.conversations', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_operator', 'chat.conversations', 'delete')::int;

rollback;
