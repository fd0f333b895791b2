-- Verify chat:fetch_recent on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.fetch_recent(uuid, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.fetch_recent(uuid, integer)', 'execute'))::int;

rollback;
