-- Verify chat:provision_user on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.provision_user(text, timestamptz)'::regprocedure
   and prorettype = 'boolean'::regtype and not proretset and not prosecdef;

select 1 / (count(*) = 0)::int from pg_catalog.pg_proc
 where proname = 'provision_user' and pronamespace = 'chat'::regnamespace
   and oid <> 'chat.provision_user(text, timestamptz)'::regprocedure;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.provision_user(text, timestamptz)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.provision_user(text, timestamptz)', 'execute'))::int;

rollback;
