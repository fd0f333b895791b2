-- Verify chat:check_metadata on pg

begin;

select 1 / (chat.check_metadata(null, 10) = '{}')::int;
select 1 / (chat.check_metadata('{"a": 1}', 10) = '{"a": 1}')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.check_metadata(jsonb, integer, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.check_metadata(jsonb, integer, text)', 'execute'))::int;

rollback;
