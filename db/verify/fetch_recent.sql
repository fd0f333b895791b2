-- Verify chat:fetch_recent on pg (reworked)

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.fetch_recent(uuid, integer)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.fetch_recent(uuid, integer)', 'execute'))::int;

-- asking the helpers in chat_private, and filtering by the policies' own
-- expression, not by a variable
select 1 / count(*)::int from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and prosrc like '%chat_private.require_user_id()%'
   and prosrc like '%= chat_private.current_user_id()%' and prosrc not like '%chat.current_user_id()%'
   and prosrc not like '%v_user_id%';

-- its limits asked of their functions and its not-found error raised by
-- chat_private.raise_conversation_not_found, not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and prosrc like '%chat_private.max_count_problem(%' and prosrc like '%chat_private.raise_conversation_not_found(%'
   and prosrc not like '%1000%' and prosrc not like '%P0002%';

-- the active path, from the head; the message a stretch follows found by
-- its seq, which a subquery gives, not by a join
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and prosrc like '%c.head_seq%' and prosrc like '%p.seq = (select f.parent_seq%'
   and prosrc not like '%join chat.messages p%';

-- across stretches, each range read by a statement of its own, oldest first
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and prosrc like '%for i in 1 .. pg_catalog.array_length(v_los, 1) loop%'
   and prosrc like '%m.seq between v_los[i] and v_his[i]%';

-- planned once, and never as an index-only scan of the budget's index
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and proconfig @> '{enable_indexonlyscan=off,plan_cache_mode=force_generic_plan}';

rollback;
