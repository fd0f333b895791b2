-- Verify chat:list_conversations on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.list_conversations(integer, timestamptz, uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.list_conversations(integer, timestamptz, uuid)', 'execute'))::int;

rollback;
