-- Verify chat:begin_turn on pg (reworked)

begin;

select part, state, attempt, retry_after, id, conversation_id, user_id, seq, role, content, metadata,
       client_msg_id, created_at, tokens_given, tokens, summary_from, summary_through, tokens_before, parent_seq, stretch_from, replayed
  from pg_catalog.jsonb_populate_record(null::chat.turn_part, '{}');

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint)'::regprocedure
   and prorettype = 'chat.turn_part'::regtype and proretset and not prosecdef;
select 1 / (pg_catalog.to_regprocedure('chat.begin_turn(uuid, text, text, integer, interval, integer, integer)') is null)::int;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint)',
                                             'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint)',
                                                  'execute'))::int;

-- its limits asked of their functions in chat_private; the history read by fetch_context
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint)'::regprocedure
   and prosrc like '%chat_private.max_count_problem(%'
   and prosrc like '%chat_private.tokens_problem(%'
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%chat.fetch_context(%'
   and prosrc like '%h.tokens_before%'
   and prosrc like '%h.stretch_from%'
   and prosrc like '%chat.edit_message(%'
   and prosrc like '%reply_key = begin_turn.client_msg_id%'
   and prosrc not like '%1000%';

-- the walk from a regenerated answer reads each message by its seq, not by a
-- join on parent_seq
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint)'::regprocedure
   and prosrc like '%m.seq = up.parent_seq%offset 0) m%' and prosrc not like '%join chat.messages m%';

rollback;
