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

-- append-only for the runtime role
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.messages', 'update, delete, truncate'))::int;

rollback;
