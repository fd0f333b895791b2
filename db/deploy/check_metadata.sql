-- Deploy chat:check_metadata to pg (reworked)
-- requires: check_metadata@v0.5.0
-- requires: private_schema
--
-- Retired. chat.check_metadata raised for a metadata that was not a JSON
-- object of a given size; no function has called it since the domains hold
-- the metadata limits (chat_private.message_metadata_problem and
-- conversation_metadata_problem), yet it was still granted to the runtime
-- role and listed among the API.

begin;

drop function chat.check_metadata(jsonb, integer, text);

commit;
