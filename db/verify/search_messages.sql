-- Verify chat:search_messages on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.search_messages(text, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.search_messages(text, integer)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.search_message_hits(tsquery, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.search_message_hits(tsquery, integer)', 'execute'))::int;

-- the word lookup in chat_private only, filtering by chat_private.require_user_id
select 1 / (pg_catalog.to_regprocedure('chat.search_message_hits(tsquery, integer)') is null)::int;
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.search_message_hits(tsquery, integer)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%';

-- its limits asked of their functions, not written out, and every helper
-- asked where it now lives
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.search_messages(text, integer)'::regprocedure
   and prosrc like '%chat_private.max_count_problem(%' and prosrc like '%chat_private.search_query_problem(%'
   and prosrc like '%chat_private.require_user_id()%' and prosrc like '%chat_private.search_message_hits(%'
   and prosrc not like '%1000%';

rollback;
