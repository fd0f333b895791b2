-- Verify chat:rename_conversation on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.rename_conversation(uuid, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.rename_conversation(uuid, text)', 'execute'))::int;

-- its limits are asked of their functions (the change limits), not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.rename_conversation(uuid, text)'::regprocedure
   and prosrc like '%chat.title_problem(%' and prosrc not like '%char_length%';

-- its not-found error raised by chat.conversation_not_found, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.rename_conversation(uuid, text)'::regprocedure
   and prosrc like '%chat.conversation_not_found(%'
   and prosrc not like '%P0002%';

rollback;
