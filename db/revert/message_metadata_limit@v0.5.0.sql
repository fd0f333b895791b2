-- Revert chat:message_metadata_limit from pg
--
-- Back to the table's two checks (message_metadata_limit@v0.4.0).

begin;

alter type chat.turn_part alter attribute metadata type jsonb;
alter type chat.appended_message alter attribute metadata type jsonb;

alter table chat.messages
  alter column metadata type jsonb,
  add constraint messages_metadata_valid check (chat.message_metadata_problem(metadata) is null),
  add constraint messages_metadata_depth check (not chat.metadata_too_deep(metadata));

drop domain chat.message_metadata;

commit;
