-- Deploy chat:messages_search_index to pg (reworked)
-- requires: messages_search_index@v0.4.0
-- requires: limits
--
-- The search index is the same index: GIN on the user and the words of a
-- message's content (simple configuration), which search_messages reads for
-- the current user only. Since the content is a chat.message_content (the
-- change limits), PostgreSQL rebuilt it reading the content as text, the
-- domain's base type, and says so in its definition; searches' expressions
-- read it the same way, so they still use it. This change says so in the
-- index's comment, and its verify script takes the definition as it is now.

begin;

comment on index chat.messages_search_idx is
  'search_messages: a user''s messages by the words of their content (simple configuration, the content read as text), read for that user only.';

commit;
