-- Verify chat:lock_turn on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.lock_turn(uuid, bigint)'::regprocedure
   and prorettype = 'chat.turns'::regtype and not proretset and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.lock_turn(uuid, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.lock_turn(uuid, bigint)', 'execute'))::int;

rollback;
