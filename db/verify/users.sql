-- Verify chat:users on pg

begin;

select id, email, display_name, created_at from chat.users where false;

select 1 / (relrowsecurity and relforcerowsecurity)::int
  from pg_catalog.pg_class where oid = 'chat.users'::regclass;

select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.users', 'select, insert, delete')::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.users', 'insert, update, delete, truncate'))::int;

rollback;
