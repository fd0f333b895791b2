-- Verify chat:search_messages on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.search_messages(text, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.search_messages(text, integer)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.search_message_hits(tsquery, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.search_message_hits(tsquery, integer)', 'execute'))::int;

rollback;
