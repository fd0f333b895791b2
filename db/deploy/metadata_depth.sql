-- Deploy chat:metadata_depth to pg (reworked)
-- requires: metadata_depth@v0.5.0
-- requires: limits
-- requires: message_metadata_limit
--
-- Every limit is a validator that says what is wrong with a value (NULL when
-- nothing is); the depth was the one predicate, checked beside the two
-- metadata validators by a second check of each domain and a second test in
-- every function. It becomes a validator like the others, in chat_private,
-- and the two metadata validators ask it last: one question per value says
-- everything that is wrong with a metadata, as it does for every other
-- field. The domains' depth checks go: their other check now says the same,
-- and every stored value passed both, so nothing is checked again.

begin;

-- The deepest a metadata may nest: 100 levels of objects or arrays, the top
-- level being 1. A SQL-standard body without a search_path of its own, so
-- that the validators that ask it, and the checks that ask them, inline it.
create function chat_private.metadata_depth_problem(metadata jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_path_exists(metadata, 'strict $.**{100} ? (@.type() == "object" || @.type() == "array")')
    then 'is nested more than 100 levels deep'
end;

comment on function chat_private.metadata_depth_problem(jsonb) is
  'The one definition of how deep a metadata (a message''s or a conversation''s) may nest: NULL when it nests objects or arrays at most 100 levels deep (the top level being 1), or is NULL; otherwise what is wrong.';

revoke all on function chat_private.metadata_depth_problem(jsonb) from public;
grant execute on function chat_private.metadata_depth_problem(jsonb) to chat_app;

create or replace function chat_private.message_metadata_problem(metadata jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(metadata) <> 'object'
    then 'must be a JSON object, not ' || pg_catalog.jsonb_typeof(metadata)
  when pg_catalog.octet_length(metadata::text) > 1048576
    then 'is larger than 1048576 bytes (1 MiB) as JSON text'
  else chat_private.metadata_depth_problem(metadata)
end;

comment on function chat_private.message_metadata_problem(jsonb) is
  'The one definition of what a message''s metadata may be: NULL when it is a JSON object of at most 1 MiB (1048576 bytes) as text, nested as chat_private.metadata_depth_problem allows; otherwise what is wrong, as a phrase that follows the field''s name.';

create or replace function chat_private.conversation_metadata_problem(metadata jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(metadata) <> 'object'
    then 'must be a JSON object, not ' || pg_catalog.jsonb_typeof(metadata)
  when pg_catalog.octet_length(metadata::text) > 16384
    then 'is larger than 16384 bytes (16 KiB) as JSON text'
  else chat_private.metadata_depth_problem(metadata)
end;

comment on function chat_private.conversation_metadata_problem(jsonb) is
  'The one definition of what a conversation''s metadata may be: NULL when it is a JSON object of at most 16 KiB (16384 bytes) as text, nested as chat_private.metadata_depth_problem allows; otherwise what is wrong.';

-- Dropping a domain's check reads no row.
alter domain chat.message_metadata drop constraint messages_metadata_depth;
alter domain chat.conversation_metadata drop constraint conversations_metadata_depth;

comment on domain chat.message_metadata is
  'A message''s metadata, as chat_private.message_metadata_problem allows: a JSON object of at most 1 MiB as text, nested at most 100 levels.';
comment on domain chat.conversation_metadata is
  'A conversation''s metadata, as chat_private.conversation_metadata_problem allows: a JSON object of at most 16 KiB as text, nested at most 100 levels.';

drop function chat.metadata_too_deep(jsonb);

commit;
