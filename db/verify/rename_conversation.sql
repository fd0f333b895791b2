-- Verify chat:rename_conversation on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.rename_conversation(uuid, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.rename_conversation(uuid, text)', 'execute'))::int;

-- asking chat_private.require_user_id, where it now lives
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.rename_conversation(uuid, text)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%';

-- its limits are asked of their functions in chat_private, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.rename_conversation(uuid, text)'::regprocedure
   and prosrc like '%chat_private.title_problem(%' and prosrc not like '%char_length%';

-- its not-found error raised by chat_private.raise_conversation_not_found, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.rename_conversation(uuid, text)'::regprocedure
   and prosrc like '%chat_private.raise_conversation_not_found(%'
   and prosrc not like '%P0002%';

rollback;
