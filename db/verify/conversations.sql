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

-- each privilege the runtime role and the auditor are granted, one by one
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.conversations', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.conversations', 'insert')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.conversations', 'delete')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'title', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'metadata', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'message_count', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'updated_at', 'update')::int;
select 1 / pg_catalog.has_table_privilege('chat_auditor', 'chat.conversations', 'select')::int;

-- and none that they are not: id, user_id and created_at never change
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.conversations', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.conversations', 'truncate'))::int;
select 1 / (not pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'id', 'update'))::int;
select 1 / (not pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'user_id', 'update'))::int;
select 1 / (not pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'created_at', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.conversations', 'insert'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.conversations', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.conversations', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.conversations', 'truncate'))::int;

rollback;
