-- Verify chat:open_event_stream on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.open_event_stream(bigint, integer)'::regprocedure and proretset and prosecdef;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.open_event_stream(bigint, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.open_event_stream(bigint, integer)', 'execute'))::int;

rollback;
