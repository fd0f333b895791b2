-- Verify chat:users on pg

begin;

select id, email, display_name, created_at from chat.users where false;

select 1 / (relrowsecurity and relforcerowsecurity)::int
  from pg_catalog.pg_class where oid = 'chat.users'::regclass;

-- each privilege the runtime role and the auditor are granted, one by one
-- (has_table_privilege with a list is true when any one of them is held)
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.users', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.users', 'insert')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.users', 'delete')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.users', 'email', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.users', 'display_name', 'update')::int;
select 1 / pg_catalog.has_table_privilege('chat_auditor', 'chat.users', 'select')::int;

-- and none that they are not
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.users', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.users', 'truncate'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.users', 'insert'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.users', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.users', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.users', 'truncate'))::int;

rollback;
