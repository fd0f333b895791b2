-- Deploy chat:messages to pg
-- requires: conversations
--
-- Messages of a conversation, numbered 1, 2, 3, … by seq. append_message is
-- the only writer: it serialises appends per conversation on the
-- conversation's row, so seq has no gap and no duplicate. Messages are
-- append-only for the runtime role; they go when their conversation goes.

begin;

create table chat.messages (
  id              uuid not null default pg_catalog.gen_random_uuid(),
  conversation_id uuid not null,
  user_id         uuid not null default chat.current_user_id(),
  seq             bigint not null
                  constraint messages_seq_positive check (seq > 0),
  role            text not null
                  constraint messages_role_known check (role in ('system', 'user', 'assistant', 'tool')),
  content         text not null
                  constraint messages_content_length check (pg_catalog.char_length(content) <= 10000),
  metadata        jsonb not null default '{}'
                  constraint messages_metadata_object check (pg_catalog.jsonb_typeof(metadata) = 'object')
                  constraint messages_metadata_size check (pg_catalog.octet_length(metadata::text) <= 65536),
  client_msg_id   text
                  constraint messages_client_msg_id_length check (pg_catalog.char_length(client_msg_id) between 1 and 200),
  created_at      timestamptz not null default pg_catalog.now(),
  primary key (user_id, id),
  -- The message's user is its conversation's user: the key says so.
  constraint messages_conversation_fkey foreign key (user_id, conversation_id)
    references chat.conversations (user_id, id) on delete cascade,
  -- Also the index of every read: fetch_messages reads it forwards from a
  -- seq, fetch_recent backwards from the end, both bounded by their limit.
  constraint messages_conversation_seq_key unique (user_id, conversation_id, seq)
);

alter table chat.messages enable row level security;
alter table chat.messages force row level security;

-- Idempotent appends: a client_msg_id names at most one message of a
-- conversation. Partial, since most messages carry none.
create unique index messages_client_msg_id_key
  on chat.messages (user_id, conversation_id, client_msg_id)
  where client_msg_id is not null;

comment on table chat.messages is
  'Chat messages. Each user sees only their own (RLS on app.user_id); written only by chat.append_message.';
comment on column chat.messages.user_id is
  'Owner; always the conversation''s user (composite foreign key).';
comment on column chat.messages.seq is
  'Position in the conversation: 1, 2, 3, … without gap or duplicate.';
comment on column chat.messages.role is
  'system, user, assistant or tool.';
comment on column chat.messages.content is
  'Text of the message, at most 10,000 characters; may be empty.';
comment on column chat.messages.metadata is
  'Tool calls and the like: a JSON object, at most 64 KiB as text.';
comment on column chat.messages.client_msg_id is
  'Client-chosen idempotency key, unique within the conversation; a retry with it returns the stored message.';

grant select, insert on chat.messages to chat_app;
grant select on chat.messages to chat_auditor;

commit;
