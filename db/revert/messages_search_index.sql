-- Revert chat:messages_search_index from pg
--
-- The index's comment as it was (messages_search_index@v0.4.0).

begin;

comment on index chat.messages_search_idx is
  'search_messages: a user''s messages by their words (simple configuration), read for that user only.';

commit;
