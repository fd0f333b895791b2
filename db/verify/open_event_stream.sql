-- Verify chat:open_event_stream on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.open_event_stream(bigint, integer)'::regprocedure and proretset and prosecdef;
-- a stream with nothing more to read has the user's next change announced
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.open_event_stream(bigint, integer)'::regprocedure
   and prosrc like '%chat_private.await_announcement(v_newest)%';
-- the kind read back as text, whatever the column's type
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.open_event_stream(bigint, integer)'::regprocedure
   and prosrc like '%e.kind::text%';
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.open_event_stream(bigint, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.open_event_stream(bigint, integer)', 'execute'))::int;

rollback;
