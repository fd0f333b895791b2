-- Deploy chat:argument_limits to pg (reworked)
-- requires: argument_limits@v0.4.0
--
-- The limits of the API functions' other arguments, each written once (a
-- function that says what is wrong with a value, NULL when nothing is), with
-- SQL-standard bodies so that the planner inlines them into the expression
-- that asks. Two of them did not inline: they wrote a length after text with
-- ||, which for a number is anytextcat, a stable function, and an immutable
-- function that calls a stable one is never inlined; every append_messages
-- and every search paid a function call for them. The number is now made
-- text first. What each function says is unchanged.

begin;

-- How long a search may be: 1000 characters.
create or replace function chat.search_query_problem(query text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(query) > 1000
    then 'is longer than 1000 characters (' || pg_catalog.char_length(query)::text || ' characters)'
end;

-- What one append_messages takes as a whole: a JSON array of 1 to 1000
-- messages.
create or replace function chat.message_batch_problem(messages jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(messages) is distinct from 'array'
    then 'must be a JSON array, not ' || coalesce(pg_catalog.jsonb_typeof(messages), 'NULL')
  when pg_catalog.jsonb_array_length(messages) not between 1 and 1000
    then 'must hold 1 to 1000 messages, not ' || pg_catalog.jsonb_array_length(messages)::text
end;

commit;
