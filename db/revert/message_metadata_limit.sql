-- Revert chat:message_metadata_limit from pg (reworked)
--
-- The validator back in schema chat.

begin;

alter function chat_private.message_metadata_problem(jsonb) set schema chat;

comment on column chat.messages.metadata is
  'Tool calls, agent items and the like: a JSON object, at most 1 MiB as text (chat.message_metadata_problem).';

commit;
