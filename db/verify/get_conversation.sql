-- Verify chat:get_conversation on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.get_conversation(uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.get_conversation(uuid)', 'execute'))::int;

-- asking the helpers in chat_private, and filtering by the policies' own
-- expression, not by a variable
select 1 / count(*)::int from pg_catalog.pg_proc
 where oid = 'chat.get_conversation(uuid)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%= chat_private.current_user_id()%' and prosrc not like '%chat.current_user_id()%'
   and prosrc not like '%v_user_id%';

rollback;
