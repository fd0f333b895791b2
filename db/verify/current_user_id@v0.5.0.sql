-- Verify chat:current_user_id on pg (reworked)

begin;

-- a SQL-standard body and no setting of its own: what lets the planner inline it
select 1 / count(*)::int from pg_catalog.pg_proc
 where oid = 'chat.current_user_id()'::regprocedure
   and prosqlbody is not null and proconfig is null and provolatile = 's' and not prosecdef;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.current_user_id()', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.require_user_id()', 'execute')::int;

-- Unset reads as NULL (fail closed); a set value reads back as that uuid.
select 1 / (chat.current_user_id() is null)::int;
select pg_catalog.set_config('app.user_id', '', true);
select 1 / (chat.current_user_id() is null)::int;
select pg_catalog.set_config('app.user_id', '00000000-0000-0000-0000-000000000001', true);
select 1 / (chat.current_user_id() = '00000000-0000-0000-0000-000000000001')::int;
select 1 / (chat.require_user_id() = '00000000-0000-0000-0000-000000000001')::int;

select 1 / (not pg_catalog.has_function_privilege('public', 'chat.current_user_id()', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.require_user_id()', 'execute'))::int;

rollback;
