-- Verify chat:append_messages on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_messages(uuid, jsonb)'::regprocedure
   and prorettype = 'chat.appended_message'::regtype and proretset and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.append_messages(uuid, jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.append_messages(uuid, jsonb)', 'execute'))::int;

-- the current user, its limits and its elements asked of the helpers in chat_private, and its
-- not-found error raised by chat_private.raise_conversation_not_found, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_messages(uuid, jsonb)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%chat_private.message_batch_problem(%'
   and prosrc like '%chat_private.raise_conversation_not_found(%'
   and prosrc not like '%chat.require_user_id(%' and prosrc not like '%chat.message_batch_problem(%'
   and prosrc not like '%chat.conversation_not_found(%'
   and prosrc not like '%1000%' and prosrc not like '%P0002%';

-- each element checked by chat_private.check_message_element; its count stored as tokens_given
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_messages(uuid, jsonb)'::regprocedure
   and prosrc like '%chat_private.check_message_element(%'
   and prosrc like '%tokens_given%';

-- a batch without keys is stored by one insert that returns its rows
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_messages(uuid, jsonb)'::regprocedure
   and prosrc like '%if not v_keyed then%' and prosrc like '%with stored as (%insert into chat.messages%';

-- after the conversation's head, which it moves
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_messages(uuid, jsonb)'::regprocedure
   and prosrc like '%parent_seq%'
   and prosrc like '%head_seq = %';

rollback;
