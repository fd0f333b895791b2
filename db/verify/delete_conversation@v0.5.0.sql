-- Verify chat:delete_conversation on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.delete_conversation(uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.delete_conversation(uuid)', 'execute'))::int;

rollback;
