-- Verify chat:fetch_context on pg

begin;

select id, conversation_id, user_id, seq, role, content, metadata, client_msg_id, created_at, tokens_given, tokens,
       summary_from, summary_through, tokens_before, parent_seq, stretch_from, over_budget
  from (select (null::chat.context_message).*) r where false;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.fetch_context(uuid, integer, integer, bigint)'::regprocedure
   and prorettype = 'chat.context_message'::regtype and proretset and not prosecdef and provolatile = 's'
   and pg_catalog.strpos(prosrc, 'fetch_context_walk') > 0
   and pg_catalog.strpos(prosrc, 'k.stretch_from = v_stretch') > 0;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.fetch_context_walk(uuid, integer, integer, bigint)'::regprocedure
   and prorettype = 'chat.context_message'::regtype and proretset and not prosecdef and provolatile = 's';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.fetch_context(uuid, integer, integer, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.fetch_context(uuid, integer, integer, bigint)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.fetch_context_walk(uuid, integer, integer, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.fetch_context_walk(uuid, integer, integer, bigint)', 'execute'))::int;

rollback;
