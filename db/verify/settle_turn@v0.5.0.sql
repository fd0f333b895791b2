-- Verify chat:settle_turn on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.settle_turn(uuid, bigint, bigint)'::regprocedure
   and prorettype = 'chat.appended_message'::regtype and not proretset and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.settle_turn(uuid, bigint, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.settle_turn(uuid, bigint, bigint)', 'execute'))::int;

rollback;
