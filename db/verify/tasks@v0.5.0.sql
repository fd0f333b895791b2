-- Verify chat:tasks on pg

begin;

select id, user_id, title, description, completed, created_at, updated_at from chat.tasks where false;

select 1 / (relrowsecurity and relforcerowsecurity)::int
  from pg_catalog.pg_class where oid = 'chat.tasks'::regclass;

select 1 / (pg_catalog.array_agg(a.attname order by k.ord) = '{user_id,id}')::int
  from pg_catalog.pg_constraint c
 cross join lateral pg_catalog.unnest(c.conkey) with ordinality as k (attnum, ord)
  join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
 where c.conrelid = 'chat.tasks'::regclass and c.contype = 'p';

select 1 / count(*)::int from pg_catalog.pg_trigger
 where tgrelid = 'chat.tasks'::regclass and tgname = 'tasks_touch_updated_at';

-- each privilege the runtime role and the auditor are granted, one by one
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.tasks', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.tasks', 'insert')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.tasks', 'delete')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.tasks', 'title', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.tasks', 'description', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.tasks', 'completed', 'update')::int;
select 1 / pg_catalog.has_table_privilege('chat_auditor', 'chat.tasks', 'select')::int;

-- and none that they are not
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.tasks', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.tasks', 'truncate'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.tasks', 'insert'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.tasks', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.tasks', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.tasks', 'truncate'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.tasks_touch_updated_at()', 'execute'))::int;

rollback;
