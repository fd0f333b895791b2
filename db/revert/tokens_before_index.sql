-- Revert chat:tokens_before_index from pg
--
-- Back to the index led by the conversation, as message_parents made it.

begin;

drop index chat.messages_tokens_before_idx;
create index messages_tokens_before_idx on chat.messages (user_id, conversation_id, stretch_from, tokens_before, seq);

commit;
