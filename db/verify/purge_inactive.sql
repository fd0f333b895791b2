-- Verify chat:purge_inactive on pg (reworked)
--
-- chat_operator may run the purge and nothing else: no privilege on any
-- table, no policy; the function runs with its owner's rights, and only
-- chat_operator may call it.

begin;

select 1 / pg_catalog.has_function_privilege('chat_operator', 'chat.purge_inactive(interval, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('chat_app', 'chat.purge_inactive(interval, integer)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_auditor', 'chat.purge_inactive(interval, integer)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.purge_inactive(interval, integer)', 'execute'))::int;

select 1 / p.prosecdef::int from pg_catalog.pg_proc p
 where p.oid = 'chat.purge_inactive(interval, integer)'::regprocedure
   and p.proconfig = '{"search_path=pg_catalog, pg_temp"}';

-- not one privilege on any table or column of chat, not one policy
select 1 / (count(*) = 0)::int
  from pg_catalog.pg_class c
 cross join (values ('select'), ('insert'), ('update'), ('delete'), ('truncate'), ('references'), ('trigger'))
            as p (privilege)
 where c.relnamespace = 'chat'::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
   and pg_catalog.has_table_privilege('chat_operator', c.oid, p.privilege);
select 1 / (count(*) = 0)::int
  from pg_catalog.pg_attribute a
  join pg_catalog.pg_class c on c.oid = a.attrelid
 cross join (values ('select'), ('insert'), ('update'), ('references')) as p (privilege)
 where c.relnamespace = 'chat'::regnamespace and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
   and pg_catalog.has_column_privilege('chat_operator', c.oid, a.attnum, p.privilege);
select 1 / (count(*) = 0)::int from pg_catalog.pg_policies
 where schemaname = 'chat' and 'chat_operator' = any(roles);

rollback;
