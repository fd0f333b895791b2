-- Verify chat:announce_after on pg

begin;

select announce_after from chat_private.event_streams where false;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.await_announcement(bigint)'::regprocedure and prosecdef;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.await_announcement(bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.await_announcement(bigint)', 'execute'))::int;
-- still no client writes a lease
select 1 / (not pg_catalog.has_column_privilege('chat_app', 'chat_private.event_streams', 'announce_after', 'update'))::int;

rollback;
