-- Verify chat:check_token on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.check_token(timestamptz)'::regprocedure
   and prorettype = 'void'::regtype and not prosecdef
   and proconfig = '{"search_path=pg_catalog, pg_temp"}';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.check_token(timestamptz)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.check_token(timestamptz)', 'execute'))::int;

rollback;
