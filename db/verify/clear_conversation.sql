-- Verify chat:clear_conversation on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.clear_conversation(uuid)'::regprocedure
   and prorettype = 'bigint'::regtype and not proretset
   and prosecdef and proconfig = '{"search_path=pg_catalog, pg_temp"}';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.clear_conversation(uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.clear_conversation(uuid)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_auditor', 'chat.clear_conversation(uuid)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_operator', 'chat.clear_conversation(uuid)', 'execute'))::int;

-- the current user asked of chat_private.require_user_id; its not-found error raised by
-- chat_private.raise_conversation_not_found, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.clear_conversation(uuid)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%chat_private.raise_conversation_not_found(%'
   and prosrc not like '%chat.require_user_id(%'
   and prosrc not like '%chat.conversation_not_found(%'
   and prosrc not like '%P0002%';

-- after the conversation's head, which it moves
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.clear_conversation(uuid)'::regprocedure
   and prosrc like '%head_seq = null%';

rollback;
