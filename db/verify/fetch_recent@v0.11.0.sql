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

-- the active path, from the head
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and prosrc like '%c.head_seq%' and prosrc like '%p.seq = f.parent_seq%';

-- across stretches, each range read by an index range scan of its own
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and prosrc like '%pg_catalog.unnest(v_los), pg_catalog.unnest(v_his)%' and prosrc like '%m.seq between r.lo and r.hi%';

-- planned once, and never as an index-only scan of the budget's index
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_recent(uuid, integer)'::regprocedure
   and proconfig @> '{enable_indexonlyscan=off,plan_cache_mode=force_generic_plan}';

rollback;
