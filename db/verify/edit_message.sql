-- Verify chat:edit_message on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.edit_message(uuid, bigint, text, jsonb, text)'::regprocedure
   and prorettype = 'chat.appended_message'::regtype and not proretset and not prosecdef;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.edit_message(uuid, bigint, text, jsonb, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.edit_message(uuid, bigint, text, jsonb, text)', 'execute'))::int;

rollback;
