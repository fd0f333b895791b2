-- Deploy chat:limits to pg (reworked)
-- requires: limits@v0.4.0
-- requires: message_metadata_limit
--
-- Each limit is still written once, in a function that says what is wrong
-- with a value (NULL when nothing is); the API functions' argument checks ask
-- it and raise the answer with the field named, and a test holds the Python
-- layer's limits to it.
--
-- The columns now hold their limits in their types: a domain for each limit,
-- whose check asks the function, as chat.message_metadata does for a
-- message's metadata. PostgreSQL plans a table's checks again for every
-- statement that writes a row (reading the functions' bodies again to
-- inline them) and checks every one of them on every update, whatever the
-- update changes: each append, which bumps its conversation's count, checked
-- the conversation's title and metadata again. A domain's checks are planned
-- once per session, and checked only where a value of the domain is written.
--
-- content_problem wrote a length after text with ||, which for a number is
-- anytextcat, a stable function; an immutable function that calls a stable
-- one is never inlined, so every message written paid a call of it. The
-- number is made text first now; what it says is unchanged.

begin;

create or replace function chat.content_problem(content text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(content) > 10000
    then 'is longer than 10000 characters (' || pg_catalog.char_length(content)::text || ' characters)'
end;

-- One domain for each limit, its check named as the table's check was. A
-- domain leaves NULL to the column's NOT NULL, as the functions do but for
-- role_problem, which refuses a missing role by name.
create domain chat.message_role as text
  constraint messages_role_known check (value is null or chat.role_problem(value) is null);
create domain chat.message_content as text
  constraint messages_content_length check (chat.content_problem(value) is null);
create domain chat.client_msg_id as text
  constraint client_msg_id_length check (chat.client_msg_id_problem(value) is null);
create domain chat.conversation_title as text
  constraint conversations_title_length check (chat.title_problem(value) is null);
create domain chat.conversation_metadata as jsonb
  constraint conversations_metadata_valid check (chat.conversation_metadata_problem(value) is null)
  constraint conversations_metadata_depth check (not chat.metadata_too_deep(value));
create domain chat.task_title as text
  constraint tasks_title_length check (chat.task_title_problem(value) is null);
create domain chat.task_description as text
  constraint tasks_description_length check (chat.task_description_problem(value) is null);

comment on domain chat.message_role is
  'A message''s role, as chat.role_problem allows: system, user, assistant or tool.';
comment on domain chat.message_content is
  'A message''s text, as chat.content_problem allows: at most 10000 characters.';
comment on domain chat.client_msg_id is
  'A client''s idempotency key (a message''s client_msg_id, a turn''s opening_key), as chat.client_msg_id_problem allows: 1 to 200 characters.';
comment on domain chat.conversation_title is
  'A conversation''s title, as chat.title_problem allows: at most 200 characters.';
comment on domain chat.conversation_metadata is
  'A conversation''s metadata, as chat.conversation_metadata_problem and chat.metadata_too_deep allow: a JSON object of at most 16 KiB as text, nested at most 100 levels.';
comment on domain chat.task_title is
  'A task''s title, as chat.task_title_problem allows: 1 to 200 characters.';
comment on domain chat.task_description is
  'A task''s description, as chat.task_description_problem allows: at most 10000 characters.';

-- The columns take the domains and the tables' checks go. Each column's
-- values are checked once, under the lock the alter takes, and not
-- rewritten; the indexes on a retyped column are built again (the search
-- index among them). On large tables, deploy this in a quiet hour.
alter table chat.messages
  drop constraint messages_role_known,
  drop constraint messages_content_length,
  drop constraint messages_client_msg_id_length,
  alter column role type chat.message_role,
  alter column content type chat.message_content,
  alter column client_msg_id type chat.client_msg_id;

alter table chat.conversations
  drop constraint conversations_title_length,
  drop constraint conversations_metadata_valid,
  drop constraint conversations_metadata_depth,
  alter column title type chat.conversation_title,
  alter column metadata type chat.conversation_metadata;

alter table chat.turns
  drop constraint turns_opening_key_length,
  alter column opening_key type chat.client_msg_id;

alter table chat.tasks
  drop constraint tasks_title_length,
  drop constraint tasks_description_length,
  alter column title type chat.task_title,
  alter column description type chat.task_description;

-- The rows the functions return take the table's types, as their queries
-- give them.
alter type chat.appended_message
  alter attribute role type chat.message_role,
  alter attribute content type chat.message_content,
  alter attribute client_msg_id type chat.client_msg_id;
alter type chat.turn_part
  alter attribute role type chat.message_role,
  alter attribute content type chat.message_content,
  alter attribute client_msg_id type chat.client_msg_id;

commit;
