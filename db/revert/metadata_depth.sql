-- Revert chat:metadata_depth from pg (reworked)
--
-- Back to the predicate chat.metadata_too_deep and the domains' depth checks
-- beside the two metadata validators. Adding a domain's check reads every
-- stored value of it: on large tables, revert this in a quiet hour.

begin;

create function chat.metadata_too_deep(metadata jsonb) returns boolean
  language sql immutable parallel safe security invoker
return pg_catalog.jsonb_path_exists(metadata, 'strict $.**{100} ? (@.type() == "object" || @.type() == "array")');

comment on function chat.metadata_too_deep(jsonb) is
  'True when the JSON value nests objects or arrays more than 100 levels deep (the top level being 1); NULL for NULL.';

revoke all on function chat.metadata_too_deep(jsonb) from public;
grant execute on function chat.metadata_too_deep(jsonb) to chat_app;

alter domain chat.message_metadata
  add constraint messages_metadata_depth check (not chat.metadata_too_deep(value));
alter domain chat.conversation_metadata
  add constraint conversations_metadata_depth check (not chat.metadata_too_deep(value));

comment on domain chat.message_metadata is
  'A message''s metadata: what chat.message_metadata_problem and chat.metadata_too_deep allow (a JSON object of at most 1 MiB as text, nested at most 100 levels).';
comment on domain chat.conversation_metadata is
  'A conversation''s metadata, as chat.conversation_metadata_problem and chat.metadata_too_deep allow: a JSON object of at most 16 KiB as text, nested at most 100 levels.';

create or replace function chat_private.message_metadata_problem(metadata jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(metadata) <> 'object'
    then 'must be a JSON object, not ' || pg_catalog.jsonb_typeof(metadata)
  when pg_catalog.octet_length(metadata::text) > 1048576
    then 'is larger than 1048576 bytes (1 MiB) as JSON text'
end;

comment on function chat_private.message_metadata_problem(jsonb) is
  'The one definition of what a message''s metadata may be, but for its depth (chat.metadata_too_deep): NULL when it is a JSON object of at most 1 MiB (1048576 bytes) as text; otherwise what is wrong, as a phrase that follows the field''s name.';

create or replace function chat_private.conversation_metadata_problem(metadata jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(metadata) <> 'object'
    then 'must be a JSON object, not ' || pg_catalog.jsonb_typeof(metadata)
  when pg_catalog.octet_length(metadata::text) > 16384
    then 'is larger than 16384 bytes (16 KiB) as JSON text'
end;

comment on function chat_private.conversation_metadata_problem(jsonb) is
  'The one definition of what a conversation''s metadata may be, but for its depth (chat.metadata_too_deep): NULL when it is a JSON object of at most 16 KiB (16384 bytes) as text; otherwise what is wrong.';

drop function chat_private.metadata_depth_problem(jsonb);

commit;
