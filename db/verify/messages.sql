-- Verify chat:messages on pg

begin;

select id, conversation_id, user_id, seq, role, content, metadata, client_msg_id, created_at
  from chat.messages where false;

select 1 / (relrowsecurity and relforcerowsecurity)::int
  from pg_catalog.pg_class where oid = 'chat.messages'::regclass;

-- the composite foreign key that ties a message's user to its conversation's
select 1 / count(*)::int
  from pg_catalog.pg_constraint
 where conrelid = 'chat.messages'::regclass and contype = 'f'
   and confrelid = 'chat.conversations'::regclass
   and pg_catalog.cardinality(conkey) = 2;

select 1 / (count(*) = 2)::int from pg_catalog.pg_indexes
 where schemaname = 'chat'
   and indexname in ('messages_conversation_seq_key', 'messages_client_msg_id_key');

-- each privilege the runtime role and the auditor are granted, one by one
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.messages', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.messages', 'insert')::int;
select 1 / pg_catalog.has_table_privilege('chat_auditor', 'chat.messages', 'select')::int;

-- and none that they are not: a message is never changed, and removed only with its conversation
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.messages', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.messages', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.messages', 'truncate'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.messages', 'insert'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.messages', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.messages', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.messages', 'truncate'))::int;

rollback;
