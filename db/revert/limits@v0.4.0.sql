-- Revert chat:limits from pg
--
-- The tables' checks written out again, as they were; then the functions go.

begin;

alter table chat.tasks
  drop constraint tasks_title_length,
  add constraint tasks_title_length check (pg_catalog.char_length(title) between 1 and 200),
  drop constraint tasks_description_length,
  add constraint tasks_description_length check (pg_catalog.char_length(description) <= 10000);

alter table chat.turns
  drop constraint turns_opening_key_length,
  add constraint turns_opening_key_length check (pg_catalog.char_length(opening_key) between 1 and 200);

alter table chat.conversations
  drop constraint conversations_title_length,
  add constraint conversations_title_length check (pg_catalog.char_length(title) <= 200),
  drop constraint conversations_metadata_valid,
  add constraint conversations_metadata_object check (pg_catalog.jsonb_typeof(metadata) = 'object'),
  add constraint conversations_metadata_size check (pg_catalog.octet_length(metadata::text) <= 16384);

alter table chat.messages
  drop constraint messages_role_known,
  add constraint messages_role_known check (role in ('system', 'user', 'assistant', 'tool')),
  drop constraint messages_content_length,
  add constraint messages_content_length check (pg_catalog.char_length(content) <= 10000),
  drop constraint messages_client_msg_id_length,
  add constraint messages_client_msg_id_length check (pg_catalog.char_length(client_msg_id) between 1 and 200);

drop function chat.role_problem(text), chat.content_problem(text), chat.client_msg_id_problem(text),
  chat.title_problem(text), chat.conversation_metadata_problem(jsonb), chat.task_title_problem(text),
  chat.task_description_problem(text);

commit;
