-- Revert chat:limits from pg (reworked)
--
-- The validators back in schema chat, the domains' comments naming them
-- there.

begin;

alter function chat_private.role_problem(text) set schema chat;
alter function chat_private.content_problem(text) set schema chat;
alter function chat_private.client_msg_id_problem(text) set schema chat;
alter function chat_private.title_problem(text) set schema chat;
alter function chat_private.conversation_metadata_problem(jsonb) set schema chat;
alter function chat_private.task_title_problem(text) set schema chat;
alter function chat_private.task_description_problem(text) set schema chat;

comment on domain chat.message_role is
  'A message''s role, as chat.role_problem allows: system, user, assistant or tool.';
comment on domain chat.message_content is
  'A message''s text, as chat.content_problem allows: at most 10000 characters.';
comment on domain chat.client_msg_id is
  'A client''s idempotency key (a message''s client_msg_id, a turn''s opening_key), as chat.client_msg_id_problem allows: 1 to 200 characters.';
comment on domain chat.conversation_title is
  'A conversation''s title, as chat.title_problem allows: at most 200 characters.';
comment on domain chat.task_title is
  'A task''s title, as chat.task_title_problem allows: 1 to 200 characters.';
comment on domain chat.task_description is
  'A task''s description, as chat.task_description_problem allows: at most 10000 characters.';

commit;
