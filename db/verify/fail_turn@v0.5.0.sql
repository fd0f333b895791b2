-- Verify chat:fail_turn on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fail_turn(uuid, bigint, uuid)'::regprocedure
   and prorettype = 'boolean'::regtype and not proretset and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.fail_turn(uuid, bigint, uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.fail_turn(uuid, bigint, uuid)', 'execute'))::int;

rollback;
