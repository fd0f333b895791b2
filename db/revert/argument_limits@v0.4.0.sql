-- Revert chat:argument_limits from pg

begin;

drop function chat.max_count_problem(integer), chat.search_query_problem(text), chat.message_batch_problem(jsonb);

commit;
