-- Verify chat:create_conversation on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.create_conversation(text, jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.create_conversation(text, jsonb)', 'execute'))::int;

-- asking chat_private.require_user_id, where it now lives
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.create_conversation(text, jsonb)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%';

-- its limits are asked of their functions in chat_private, not written out;
-- the metadata's validator says the depth too, so no separate depth check
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.create_conversation(text, jsonb)'::regprocedure
   and prosrc like '%chat_private.title_problem(%'
   and prosrc like '%chat_private.conversation_metadata_problem(%' and prosrc not like '%16384%'
   and prosrc not like '%metadata_too_deep%';

rollback;
