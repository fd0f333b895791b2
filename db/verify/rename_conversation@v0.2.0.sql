-- Verify chat:rename_conversation on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.rename_conversation(uuid, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.rename_conversation(uuid, text)', 'execute'))::int;

rollback;
