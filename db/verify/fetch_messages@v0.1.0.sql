-- Verify chat:fetch_messages on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.fetch_messages(uuid, bigint, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.fetch_messages(uuid, bigint, integer)', 'execute'))::int;

rollback;
