-- Verify chat:read_events on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.read_events(uuid[], bigint[], integer)'::regprocedure and proretset and not prosecdef;
-- a read that finds nothing more has the user's next change announced
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.read_events(uuid[], bigint[], integer)'::regprocedure
   and prosrc like '%chat_private.await_announcement(read_events.after_ids[i])%';
-- the kind read back as text, whatever the column's type
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.read_events(uuid[], bigint[], integer)'::regprocedure
   and prosrc like '%e.kind::text%';
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.read_events(uuid[], bigint[], integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.read_events(uuid[], bigint[], integer)', 'execute'))::int;

rollback;
