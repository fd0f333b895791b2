-- Verify chat:messages_search_index on pg

begin;

select 1 / count(*) from pg_catalog.pg_indexes
 where schemaname = 'chat' and indexname = 'messages_search_idx'
   and indexdef like '%USING gin (user_id, to_tsvector(''simple''::regconfig, content))%';

rollback;
