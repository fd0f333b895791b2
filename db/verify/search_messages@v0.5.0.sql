-- Verify chat:search_messages on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.search_messages(text, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.search_messages(text, integer)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.search_message_hits(tsquery, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.search_message_hits(tsquery, integer)', 'execute'))::int;

-- its limits asked of their functions, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.search_messages(text, integer)'::regprocedure
   and prosrc like '%chat.max_count_problem(%' and prosrc like '%chat.search_query_problem(%'
   and prosrc not like '%1000%';

rollback;
