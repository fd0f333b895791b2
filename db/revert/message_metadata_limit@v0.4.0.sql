-- Revert chat:message_metadata_limit from pg
--
-- Back to the two checks, of type and of 64 KiB. A message stored since with metadata
-- over 64 KiB makes this revert fail, as it should: nothing is cut.

begin;

alter table chat.messages
  drop constraint messages_metadata_valid,
  add constraint messages_metadata_object check (pg_catalog.jsonb_typeof(metadata) = 'object'),
  add constraint messages_metadata_size check (pg_catalog.octet_length(metadata::text) <= 65536);

comment on column chat.messages.metadata is
  'Tool calls and the like: a JSON object, at most 64 KiB as text.';

drop function chat.message_metadata_problem(jsonb);

commit;
