-- Verify chat:tokens_before_index on pg

begin;

select 1 / count(*) from pg_catalog.pg_indexes
 where schemaname = 'chat' and indexname = 'messages_tokens_before_idx'
   and indexdef like '%(stretch_from, user_id, conversation_id, tokens_before, seq)';

rollback;
