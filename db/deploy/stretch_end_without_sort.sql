-- Deploy chat:stretch_end_without_sort to pg
-- requires: active_path
--
-- The end of a stretch is the last entry of the stretch in the budget's index
-- (messages_tokens_before_idx, led by stretch_from): a backward probe. Planned
-- generically, where a conversation holds a few messages on average, the
-- conversation's own index looked as cheap, and the plan read the whole
-- conversation by it and sorted what matched (10,199 rows for one stretch in
-- make bench's database). Without sorts the plan is the index's order.

begin;

alter function chat_private.stretch_end(uuid, bigint) set enable_sort = off;

commit;
