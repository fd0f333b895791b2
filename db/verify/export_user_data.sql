-- Verify chat:export_user_data on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.export_user_data()'::regprocedure
   and prosrc like '%chat_private.require_user_id()%';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.export_user_data()', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.export_user_data()', 'execute'))::int;

rollback;
