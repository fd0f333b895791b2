-- Verify chat:append_messages on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.append_messages(uuid, jsonb)'::regprocedure
   and prorettype = 'chat.appended_message'::regtype and proretset and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.append_messages(uuid, jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.append_messages(uuid, jsonb)', 'execute'))::int;

rollback;
