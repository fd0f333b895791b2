-- Verify chat:finish_turn on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.finish_turn(uuid, bigint, text, jsonb)'::regprocedure
   and prorettype = 'chat.appended_message'::regtype and not proretset and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.finish_turn(uuid, bigint, text, jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.finish_turn(uuid, bigint, text, jsonb)',
                                                  'execute'))::int;

-- the turn claimed through the lock where it now lives
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.finish_turn(uuid, bigint, text, jsonb)'::regprocedure
   and prosrc like '%chat_private.lock_turn(%'
   and prosrc not like '%chat.lock_turn(%';

rollback;
