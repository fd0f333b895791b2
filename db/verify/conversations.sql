-- Verify chat:conversations on pg

begin;

select id, user_id, title, metadata, message_count, created_at, updated_at
  from chat.conversations where false;

select 1 / (relrowsecurity and relforcerowsecurity)::int
  from pg_catalog.pg_class where oid = 'chat.conversations'::regclass;

select 1 / (pg_catalog.array_agg(a.attname order by k.ord) = '{user_id,id}')::int
  from pg_catalog.pg_constraint c
 cross join lateral pg_catalog.unnest(c.conkey) with ordinality as k (attnum, ord)
  join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
 where c.conrelid = 'chat.conversations'::regclass and c.contype = 'p';

select 1 / count(*)::int from pg_catalog.pg_indexes
 where schemaname = 'chat' and indexname = 'conversations_user_activity_idx';

rollback;
