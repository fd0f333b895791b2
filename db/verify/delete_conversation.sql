-- Verify chat:delete_conversation on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.delete_conversation(uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.delete_conversation(uuid)', 'execute'))::int;

-- asking chat_private.require_user_id, where it now lives
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.delete_conversation(uuid)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%';

rollback;
