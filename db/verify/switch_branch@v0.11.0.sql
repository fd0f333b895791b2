-- Verify chat:switch_branch on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.switch_branch(uuid, bigint)'::regprocedure
   and prorettype = 'chat.conversations'::regtype and not proretset and not prosecdef;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.switch_branch(uuid, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.switch_branch(uuid, bigint)', 'execute'))::int;

rollback;
