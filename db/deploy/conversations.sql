-- Deploy chat:conversations to pg
-- requires: users
--
-- A conversation of the chatbot. message_count and updated_at are kept by
-- append_message in the same transaction as the message, so the list of
-- conversations never needs to look at messages.

begin;

create table chat.conversations (
  id            uuid not null default pg_catalog.gen_random_uuid(),
  user_id       uuid not null default chat.current_user_id()
                references chat.users (id) on delete cascade,
  title         text
                constraint conversations_title_length check (pg_catalog.char_length(title) <= 200),
  metadata      jsonb not null default '{}'
                constraint conversations_metadata_object check (pg_catalog.jsonb_typeof(metadata) = 'object')
                constraint conversations_metadata_size check (pg_catalog.octet_length(metadata::text) <= 16384),
  message_count bigint not null default 0
                constraint conversations_message_count_nonnegative check (message_count >= 0),
  created_at    timestamptz not null default pg_catalog.now(),
  updated_at    timestamptz not null default pg_catalog.now(),
  primary key (user_id, id)
);

alter table chat.conversations enable row level security;
alter table chat.conversations force row level security;

-- list_conversations: one user's conversations by last activity, keyset-paged
-- on (updated_at, id); read backwards for newest first.
create index conversations_user_activity_idx on chat.conversations (user_id, updated_at, id);

comment on table chat.conversations is
  'Chatbot conversations. Each user sees and changes only their own (RLS on app.user_id).';
comment on column chat.conversations.title is
  'Optional title, at most 200 characters.';
comment on column chat.conversations.metadata is
  'Free-form JSON object, at most 16 KiB as text.';
comment on column chat.conversations.message_count is
  'Number of messages; kept by chat.append_message.';
comment on column chat.conversations.updated_at is
  'Time of the last activity: last message appended, or rename.';

-- The runtime role writes through the API functions, which run with its
-- rights (security invoker), so it needs these privileges itself; RLS keeps
-- them to its own rows. id, user_id and created_at never change.
grant select, insert, delete on chat.conversations to chat_app;
grant update (title, metadata, message_count, updated_at) on chat.conversations to chat_app;
grant select on chat.conversations to chat_auditor;

commit;
