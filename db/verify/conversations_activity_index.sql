-- Verify chat:conversations_activity_index on pg

begin;

select 1 / count(*) from pg_catalog.pg_indexes
 where schemaname = 'chat' and tablename = 'conversations' and indexname = 'conversations_activity_idx'
   and indexdef like '%USING btree (updated_at)';

rollback;
