-- Verify chat:append_message on pg (reworked)

begin;

select id, conversation_id, user_id, seq, role, content, metadata, client_msg_id, created_at, tokens_given, tokens,
       parent_seq, stretch_from, replayed
  from (select (null::chat.appended_message).*) r where false;

-- the new signature only, granted to the runtime role alone
select 1 / (pg_catalog.to_regprocedure('chat.append_message(uuid, text, text, jsonb, text)') is null)::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.append_message(uuid, text, text, jsonb, text, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.append_message(uuid, text, text, jsonb, text, integer)', 'execute'))::int;

-- the writer's count stored as tokens_given, checked by the one definition of a count
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_message(uuid, text, text, jsonb, text, integer)'::regprocedure
   and prosrc like '%chat_private.check_message(%'
   and prosrc like '%chat_private.tokens_problem(%'
   and prosrc like '%tokens_given%'
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%chat_private.raise_conversation_not_found(%';

-- after the conversation's head, which it moves, read back from the update
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_message(uuid, text, text, jsonb, text, integer)'::regprocedure
   and prosrc like '%parent_seq%'
   and prosrc like '%previous_head_seq = c.head_seq%';

rollback;
