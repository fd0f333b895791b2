-- Verify chat:begin_turn on pg (reworked)

begin;

select part, state, attempt, retry_after, id, conversation_id, user_id, seq, role, content, metadata,
       client_msg_id, created_at, replayed
  from pg_catalog.jsonb_populate_record(null::chat.turn_part, '{}');

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.begin_turn(uuid, text, text, integer, interval)'::regprocedure
   and prorettype = 'chat.turn_part'::regtype and proretset and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.begin_turn(uuid, text, text, integer, interval)',
                                             'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.begin_turn(uuid, text, text, integer, interval)',
                                                  'execute'))::int;

-- its limits asked of their functions in chat_private, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.begin_turn(uuid, text, text, integer, interval)'::regprocedure
   and prosrc like '%chat_private.max_count_problem(%'
   and prosrc not like '%chat.max_count_problem(%'
   and prosrc not like '%1000%';

-- the current user asked of chat_private, the history filtered by the policies' own expression
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.begin_turn(uuid, text, text, integer, interval)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%m.user_id = chat_private.current_user_id()%'
   and prosrc not like '%chat.require_user_id(%'
   and prosrc not like '%chat.current_user_id(%';

rollback;
