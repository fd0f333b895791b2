-- Verify chat:fetch_siblings on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_siblings(uuid, bigint)'::regprocedure
   and prorettype = 'chat.messages'::regtype and proretset and not prosecdef;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.fetch_siblings(uuid, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.fetch_siblings(uuid, bigint)', 'execute'))::int;

-- the version just after the parent and those that start a branch read by
-- a statement each, not by one statement of an OR
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_siblings(uuid, bigint)'::regprocedure
   and prosrc like '%and m.seq = v_parent + 1%' and prosrc not like '%or (m.parent_seq = v_parent%';

rollback;
