-- Verify chat:messages_search_index on pg

begin;

-- GIN on the user and the words of the content, read as text (its domain's base type)
select 1 / count(*) from pg_catalog.pg_indexes
 where schemaname = 'chat' and indexname = 'messages_search_idx'
   and indexdef like '%USING gin (user_id, to_tsvector(''simple''::regconfig, (content)::text))%';

-- and says so
select 1 / count(*) from pg_catalog.pg_description
 where objoid = 'chat.messages_search_idx'::regclass and classoid = 'pg_catalog.pg_class'::regclass
   and description like '%the content read as text%';

rollback;
