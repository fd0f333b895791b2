-- Verify chat:append_message on pg (reworked)

begin;

select id, conversation_id, user_id, seq, role, content, metadata, client_msg_id, created_at, replayed
  from (select (null::chat.appended_message).*) r where false;

-- its input goes through the shared check, asked where it now lives
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_message(uuid, text, text, jsonb, text)'::regprocedure
   and prosrc like '%chat_private.check_message(%'
   and prosrc not like '%chat.check_message(%';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.append_message(uuid, text, text, jsonb, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.append_message(uuid, text, text, jsonb, text)', 'execute'))::int;

-- the current user asked of chat_private.require_user_id; its not-found error raised by
-- chat_private.raise_conversation_not_found, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_message(uuid, text, text, jsonb, text)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%chat_private.raise_conversation_not_found(%'
   and prosrc not like '%chat.require_user_id(%'
   and prosrc not like '%chat.conversation_not_found(%'
   and prosrc not like '%P0002%';

rollback;
