-- Verify chat:pop_message on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.pop_message(uuid)'::regprocedure
   and prorettype = 'chat.messages'::regtype and proretset
   and prosecdef and proconfig = '{"search_path=pg_catalog, pg_temp"}';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.pop_message(uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.pop_message(uuid)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_auditor', 'chat.pop_message(uuid)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_operator', 'chat.pop_message(uuid)', 'execute'))::int;

-- the current user asked of chat_private.require_user_id; its not-found error raised by
-- chat_private.raise_conversation_not_found, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.pop_message(uuid)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%chat_private.raise_conversation_not_found(%'
   and prosrc not like '%chat.require_user_id(%'
   and prosrc not like '%chat.conversation_not_found(%'
   and prosrc not like '%P0002%';

-- after the conversation's head, which it moves
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.pop_message(uuid)'::regprocedure
   and prosrc like '%head_seq = coalesce(popped.parent_seq%'
   and prosrc like '%55000%';

rollback;
