-- Verify chat:fetch_log on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_log(uuid, bigint, integer)'::regprocedure
   and prorettype = 'chat.messages'::regtype and proretset and not prosecdef;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.fetch_log(uuid, bigint, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.fetch_log(uuid, bigint, integer)', 'execute'))::int;

rollback;
