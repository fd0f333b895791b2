-- Verify chat:create_conversation on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.create_conversation(text, jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.create_conversation(text, jsonb)', 'execute'))::int;

rollback;
