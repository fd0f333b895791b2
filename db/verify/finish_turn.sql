-- Verify chat:finish_turn on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.finish_turn(uuid, bigint, text, jsonb, integer)'::regprocedure
   and prorettype = 'chat.appended_message'::regtype and not proretset and not prosecdef;
select 1 / (pg_catalog.to_regprocedure('chat.finish_turn(uuid, bigint, text, jsonb)') is null)::int;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.finish_turn(uuid, bigint, text, jsonb, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.finish_turn(uuid, bigint, text, jsonb, integer)',
                                                  'execute'))::int;

-- the turn claimed through chat_private.lock_turn; the reply follows the
-- turn's message, with the turn's reply_key
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.finish_turn(uuid, bigint, text, jsonb, integer)'::regprocedure
   and prosrc like '%chat_private.lock_turn(%'
   and prosrc like '%finish_turn.tokens%'
   and prosrc like '%v_turn.reply_key%'
   and prosrc like '%chat_private.path_ranges(%';

rollback;
