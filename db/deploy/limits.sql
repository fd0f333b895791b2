-- Deploy chat:limits to pg (reworked)
-- requires: limits@v0.5.0
-- requires: private_schema
--
-- The columns' limits are still each written once, in a validator that says
-- what is wrong with a value (NULL when nothing is). They are helpers, not
-- the API: they move to chat_private. The domains' checks name them by oid
-- and follow; no stored value is checked again.

begin;

alter function chat.role_problem(text) set schema chat_private;
alter function chat.content_problem(text) set schema chat_private;
alter function chat.client_msg_id_problem(text) set schema chat_private;
alter function chat.title_problem(text) set schema chat_private;
alter function chat.conversation_metadata_problem(jsonb) set schema chat_private;
alter function chat.task_title_problem(text) set schema chat_private;
alter function chat.task_description_problem(text) set schema chat_private;

comment on domain chat.message_role is
  'A message''s role, as chat_private.role_problem allows: system, user, assistant or tool.';
comment on domain chat.message_content is
  'A message''s text, as chat_private.content_problem allows: at most 10000 characters.';
comment on domain chat.client_msg_id is
  'A client''s idempotency key (a message''s client_msg_id, a turn''s opening_key), as chat_private.client_msg_id_problem allows: 1 to 200 characters.';
comment on domain chat.conversation_title is
  'A conversation''s title, as chat_private.title_problem allows: at most 200 characters.';
comment on domain chat.task_title is
  'A task''s title, as chat_private.task_title_problem allows: 1 to 200 characters.';
comment on domain chat.task_description is
  'A task''s description, as chat_private.task_description_problem allows: at most 10000 characters.';

commit;
