-- Deploy chat:message_metadata_limit to pg
-- requires: messages
-- requires: metadata_depth
--
-- Message metadata now carries whole agent items (tool outputs, encrypted
-- reasoning), so its bound goes from 64 KiB to 1 MiB. What a message's
-- metadata may be is said in one place, chat.message_metadata_problem: the
-- table's constraint asks it, and so do the functions that take metadata,
-- which raise its answer with the argument named.

begin;

-- What is wrong with a message's metadata, or NULL when nothing is (NULL
-- metadata included: the functions read it as '{}', the column is NOT NULL):
-- it is a JSON object of at most 1 MiB as text. How deep it may nest is
-- chat.metadata_too_deep's to say, as for conversations.
create function chat.message_metadata_problem(metadata jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(metadata) <> 'object'
    then 'must be a JSON object, not ' || pg_catalog.jsonb_typeof(metadata)
  when pg_catalog.octet_length(metadata::text) > 1048576
    then 'is larger than 1048576 bytes (1 MiB) as JSON text'
end;

comment on function chat.message_metadata_problem(jsonb) is
  'The one definition of what a message''s metadata may be, but for its depth (chat.metadata_too_deep): NULL when it is a JSON object of at most 1 MiB (1048576 bytes) as text; otherwise what is wrong, as a phrase that follows the field''s name.';

revoke all on function chat.message_metadata_problem(jsonb) from public;
grant execute on function chat.message_metadata_problem(jsonb) to chat_app;

-- The table's checks of type and size become one that asks the definition
-- (messages_metadata_depth stays). Adding it reads every message once, under
-- the lock that the drops take: on a large table, deploy this change in a
-- quiet hour.
alter table chat.messages
  drop constraint messages_metadata_object,
  drop constraint messages_metadata_size,
  add constraint messages_metadata_valid check (chat.message_metadata_problem(metadata) is null);

comment on column chat.messages.metadata is
  'Tool calls, agent items and the like: a JSON object, at most 1 MiB as text (chat.message_metadata_problem).';

commit;
