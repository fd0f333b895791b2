-- Verify chat:delete_user on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.delete_user()'::regprocedure
   and prorettype = 'boolean'::regtype and not proretset and not prosecdef
   and prosrc like '%chat.deleted_users%'
   and prosrc like '%chat_private.require_user_id()%';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.delete_user()', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.delete_user()', 'execute'))::int;

rollback;
