-- Revert chat:argument_limits from pg
--
-- Back to the bodies of argument_limits@v0.4.0, which the planner does not
-- inline.

begin;

create or replace function chat.search_query_problem(query text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(query) > 1000
    then 'is longer than 1000 characters (' || pg_catalog.char_length(query) || ' characters)'
end;

create or replace function chat.message_batch_problem(messages jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(messages) is distinct from 'array'
    then 'must be a JSON array, not ' || coalesce(pg_catalog.jsonb_typeof(messages), 'NULL')
  when pg_catalog.jsonb_array_length(messages) not between 1 and 1000
    then 'must hold 1 to 1000 messages, not ' || pg_catalog.jsonb_array_length(messages)
end;

commit;
