-- Verify chat:read_events on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.read_events(uuid[], bigint[], integer)'::regprocedure and proretset and not prosecdef;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.read_events(uuid[], bigint[], integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.read_events(uuid[], bigint[], integer)', 'execute'))::int;

rollback;
