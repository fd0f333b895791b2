-- Deploy chat:message_metadata_limit to pg (reworked)
-- requires: message_metadata_limit@v0.5.0
-- requires: private_schema
--
-- A message's metadata limit is still written once, in its validator; a
-- helper, not the API, it moves to chat_private. The domain's check names it
-- by oid and follows; no stored value is checked again.

begin;

alter function chat.message_metadata_problem(jsonb) set schema chat_private;

comment on column chat.messages.metadata is
  'Tool calls, agent items and the like: a JSON object, at most 1 MiB as text (chat_private.message_metadata_problem).';

commit;
