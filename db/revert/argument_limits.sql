-- Revert chat:argument_limits from pg (reworked)
--
-- The validators back in schema chat.

begin;

alter function chat_private.max_count_problem(integer) set schema chat;
alter function chat_private.search_query_problem(text) set schema chat;
alter function chat_private.message_batch_problem(jsonb) set schema chat;

commit;
