-- Verify chat:deleted_users on pg

begin;

select user_id, deleted_at from chat.deleted_users where false;

select 1 / (c.relrowsecurity and c.relforcerowsecurity)::int
  from pg_catalog.pg_class c
 where c.oid = 'chat.deleted_users'::regclass;

select 1 / (count(*) = 5)::int
  from pg_catalog.pg_policies
 where schemaname = 'chat' and tablename = 'deleted_users'
   and policyname in ('deleted_users_select', 'deleted_users_insert', 'deleted_users_update',
                      'deleted_users_delete', 'deleted_users_audit');

select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.deleted_users', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.deleted_users', 'insert')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.deleted_users', 'deleted_at', 'update')::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.deleted_users', 'delete'))::int;
select 1 / pg_catalog.has_table_privilege('chat_auditor', 'chat.deleted_users', 'select')::int;

rollback;
