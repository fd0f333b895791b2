-- Verify chat:purge_deleted_users on pg

begin;

select 1 / p.prosecdef::int from pg_catalog.pg_proc p
 where p.oid = 'chat.purge_deleted_users(interval)'::regprocedure
   and p.prorettype = 'bigint'::regtype
   and p.proconfig = '{"search_path=pg_catalog, pg_temp"}';

select 1 / pg_catalog.has_function_privilege('chat_operator', 'chat.purge_deleted_users(interval)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('chat_app', 'chat.purge_deleted_users(interval)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_auditor', 'chat.purge_deleted_users(interval)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.purge_deleted_users(interval)', 'execute'))::int;

rollback;
