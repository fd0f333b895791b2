-- Deploy chat:limits to pg
-- requires: message_metadata_limit
-- requires: turns
-- requires: tasks
--
-- Each limit is written once, in a function that says what is wrong with a
-- value (NULL when nothing is), as chat.message_metadata_problem already does
-- for a message's metadata. The tables' checks ask these functions, and so do
-- the API functions' argument checks, which raise the answer with the field
-- named; a test holds the Python layer's limits to them. The functions have
-- SQL-standard bodies, so that the planner inlines them into each check.
--
-- Where a limit was written before, in a table's check and again in a
-- function's, the table's check is replaced here by one that asks. Replacing
-- a check reads its table once, under the lock the alter takes: on large
-- tables, deploy this change in a quiet hour.

begin;

-- A message's role: the four of the chat.
create function chat.role_problem(role text) returns text
  language sql immutable parallel safe security invoker
return case
  when role is null or role not in ('system', 'user', 'assistant', 'tool')
    then 'must be one of system, user, assistant, tool; not ' || coalesce(pg_catalog.quote_literal(role), 'NULL')
end;

-- A message's content: at most 10,000 characters (not bytes); empty is fine.
create function chat.content_problem(content text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(content) > 10000
    then 'is longer than 10000 characters (' || pg_catalog.char_length(content) || ' characters)'
end;

-- A client's idempotency key (a message's client_msg_id, a turn's opening_key).
create function chat.client_msg_id_problem(client_msg_id text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(client_msg_id) not between 1 and 200
    then 'must be 1 to 200 characters'
end;

-- A conversation's title: at most 200 characters, or none.
create function chat.title_problem(title text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(title) > 200
    then 'is longer than 200 characters'
end;

-- A conversation's metadata: a JSON object of at most 16 KiB as text. How deep
-- it may nest is chat.metadata_too_deep's to say, as for messages.
create function chat.conversation_metadata_problem(metadata jsonb) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.jsonb_typeof(metadata) <> 'object'
    then 'must be a JSON object, not ' || pg_catalog.jsonb_typeof(metadata)
  when pg_catalog.octet_length(metadata::text) > 16384
    then 'is larger than 16384 bytes (16 KiB) as JSON text'
end;

-- A task's title (1 to 200 characters) and description (at most 10,000).
create function chat.task_title_problem(title text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(title) not between 1 and 200
    then 'must be 1 to 200 characters'
end;

create function chat.task_description_problem(description text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(description) > 10000
    then 'is longer than 10000 characters'
end;

comment on function chat.role_problem(text) is
  'The one definition of a message''s role: NULL when it is system, user, assistant or tool; otherwise what is wrong, as a phrase that follows the field''s name.';
comment on function chat.content_problem(text) is
  'The one definition of a message''s content: NULL when it is at most 10000 characters (or NULL, which NOT NULL refuses); otherwise what is wrong.';
comment on function chat.client_msg_id_problem(text) is
  'The one definition of a client''s idempotency key (client_msg_id, opening_key): NULL when it is 1 to 200 characters or NULL; otherwise what is wrong.';
comment on function chat.title_problem(text) is
  'The one definition of a conversation''s title: NULL when it is at most 200 characters or NULL; otherwise what is wrong.';
comment on function chat.conversation_metadata_problem(jsonb) is
  'The one definition of what a conversation''s metadata may be, but for its depth (chat.metadata_too_deep): NULL when it is a JSON object of at most 16 KiB (16384 bytes) as text; otherwise what is wrong.';
comment on function chat.task_title_problem(text) is
  'The one definition of a task''s title: NULL when it is 1 to 200 characters; otherwise what is wrong.';
comment on function chat.task_description_problem(text) is
  'The one definition of a task''s description: NULL when it is at most 10000 characters or NULL; otherwise what is wrong.';

revoke all on function chat.role_problem(text), chat.content_problem(text), chat.client_msg_id_problem(text),
  chat.title_problem(text), chat.conversation_metadata_problem(jsonb), chat.task_title_problem(text),
  chat.task_description_problem(text) from public;
grant execute on function chat.role_problem(text), chat.content_problem(text), chat.client_msg_id_problem(text),
  chat.title_problem(text), chat.conversation_metadata_problem(jsonb), chat.task_title_problem(text),
  chat.task_description_problem(text) to chat_app;

-- The tables ask the same functions, under the names their checks had.
alter table chat.messages
  drop constraint messages_role_known,
  add constraint messages_role_known check (chat.role_problem(role) is null),
  drop constraint messages_content_length,
  add constraint messages_content_length check (chat.content_problem(content) is null),
  drop constraint messages_client_msg_id_length,
  add constraint messages_client_msg_id_length check (chat.client_msg_id_problem(client_msg_id) is null);

alter table chat.conversations
  drop constraint conversations_title_length,
  add constraint conversations_title_length check (chat.title_problem(title) is null),
  drop constraint conversations_metadata_object,
  drop constraint conversations_metadata_size,
  add constraint conversations_metadata_valid check (chat.conversation_metadata_problem(metadata) is null);

alter table chat.turns
  drop constraint turns_opening_key_length,
  add constraint turns_opening_key_length check (chat.client_msg_id_problem(opening_key) is null);

alter table chat.tasks
  drop constraint tasks_title_length,
  add constraint tasks_title_length check (chat.task_title_problem(title) is null),
  drop constraint tasks_description_length,
  add constraint tasks_description_length check (chat.task_description_problem(description) is null);

commit;
