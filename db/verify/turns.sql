-- Verify chat:turns on pg

begin;

select user_id, conversation_id, seq, opening_key, attempt, attempts, running_until, reply_seq,
       created_at, finished_at
  from chat.turns where false;

select 1 / (relrowsecurity and relforcerowsecurity)::int
  from pg_catalog.pg_class where oid = 'chat.turns'::regclass;

-- the turn's message and its reply, both by the composite key of messages
select 1 / (count(*) = 2)::int
  from pg_catalog.pg_constraint
 where conrelid = 'chat.turns'::regclass and contype = 'f'
   and confrelid = 'chat.messages'::regclass
   and pg_catalog.cardinality(conkey) = 3
   and conname in ('turns_message_fkey', 'turns_reply_fkey');

select 1 / (count(*) = 2)::int from pg_catalog.pg_indexes
 where schemaname = 'chat' and tablename = 'turns'
   and indexname in ('turns_opening_key', 'turns_reply_idx');

-- each privilege the runtime role and the auditor are granted, one by one
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.turns', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.turns', 'insert')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'attempt', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'attempts', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'running_until', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'reply_seq', 'update')::int;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'finished_at', 'update')::int;
select 1 / pg_catalog.has_table_privilege('chat_auditor', 'chat.turns', 'select')::int;

-- and none that they are not: a turn keeps its key and its message, and goes with the message
select 1 / (not pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'user_id', 'update'))::int;
select 1 / (not pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'seq', 'update'))::int;
select 1 / (not pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'opening_key', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.turns', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.turns', 'truncate'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.turns', 'insert'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.turns', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.turns', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.turns', 'truncate'))::int;

rollback;
