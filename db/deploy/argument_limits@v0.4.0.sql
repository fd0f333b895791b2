-- Deploy chat:argument_limits to pg
-- requires: chat_schema
-- requires: roles
--
-- The limits of the API functions' other arguments, each written once as the
-- change limits writes the tables' (a function that says what is wrong with
-- a value, NULL when nothing is): how many rows one read asks for, how long a
-- search may be, how many messages one append_messages takes. The functions
-- raise the answer with the argument named; a test holds the Python layer's
-- pages, query length and batch to them. SQL-standard bodies, so that the
-- planner inlines them into the expression that asks.

begin;

-- How many rows one call reads (fetch_messages, fetch_recent,
-- list_conversations, search_messages, begin_turn's history): 1 to 1000.
create function chat.max_count_problem(max_count integer) returns text
  language sql immutable parallel safe security invoker
return case
  when max_count is null or max_count not between 1 and 1000
    then 'must be between 1 and 1000, not ' || coalesce(max_count::text, 'NULL')
end;

-- A search's words: at most 1,000 characters (not bytes). That it is not
-- empty is search_messages' to say, with an error of its own.
create function chat.search_query_problem(query text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(query) > 1000
    then 'is longer than 1000 characters (' || pg_catalog.char_length(query) || ' characters)'
end;

-- The messages of one append_messages: a JSON array of 1 to 1000 (what each
-- may be is check_message's to say). The array is asked first, so that its
-- length is never asked of anything else.
create function chat.message_batch_problem(messages jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(messages) is distinct from 'array'
    then 'must be a JSON array, not ' || coalesce(pg_catalog.jsonb_typeof(messages), 'NULL')
  when pg_catalog.jsonb_array_length(messages) not between 1 and 1000
    then 'must hold 1 to 1000 messages, not ' || pg_catalog.jsonb_array_length(messages)
end;

comment on function chat.max_count_problem(integer) is
  'The one definition of how many rows one call reads (max_count): NULL when it is 1 to 1000; otherwise what is wrong, as a phrase that follows the argument''s name.';
comment on function chat.search_query_problem(text) is
  'The one definition of how long a search''s query may be: NULL when it is at most 1000 characters (or NULL, which search_messages refuses as empty); otherwise what is wrong.';
comment on function chat.message_batch_problem(jsonb) is
  'The one definition of what append_messages'' messages may be as a whole: NULL when it is a JSON array of 1 to 1000 elements; otherwise what is wrong.';

revoke all on function chat.max_count_problem(integer), chat.search_query_problem(text),
  chat.message_batch_problem(jsonb) from public;
grant execute on function chat.max_count_problem(integer), chat.search_query_problem(text),
  chat.message_batch_problem(jsonb) to chat_app;

commit;
