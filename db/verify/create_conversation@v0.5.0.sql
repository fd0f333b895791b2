-- Verify chat:create_conversation on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.create_conversation(text, jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.create_conversation(text, jsonb)', 'execute'))::int;

-- its limits are asked of their functions (the change limits), not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.create_conversation(text, jsonb)'::regprocedure
   and prosrc like '%chat.conversation_metadata_problem(%' and prosrc not like '%16384%';

rollback;
