-- Verify chat:lock_turn on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.lock_turn(uuid, bigint)'::regprocedure
   and prorettype = 'chat.turns'::regtype and not proretset and not prosecdef
   and prosrc like '%chat_private.require_user_id()%' and prosrc not like '%chat.require_user_id%';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.lock_turn(uuid, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.lock_turn(uuid, bigint)', 'execute'))::int;

rollback;
