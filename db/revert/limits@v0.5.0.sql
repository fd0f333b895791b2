-- Revert chat:limits from pg
--
-- Back to the tables' checks asking the functions, and to content_problem's
-- earlier body (limits@v0.4.0).

begin;

alter type chat.turn_part
  alter attribute role type text,
  alter attribute content type text,
  alter attribute client_msg_id type text;
alter type chat.appended_message
  alter attribute role type text,
  alter attribute content type text,
  alter attribute client_msg_id type text;

alter table chat.tasks
  alter column title type text,
  alter column description type text,
  add constraint tasks_title_length check (chat.task_title_problem(title) is null),
  add constraint tasks_description_length check (chat.task_description_problem(description) is null);

alter table chat.turns
  alter column opening_key type text,
  add constraint turns_opening_key_length check (chat.client_msg_id_problem(opening_key) is null);

alter table chat.conversations
  alter column title type text,
  alter column metadata type jsonb,
  add constraint conversations_title_length check (chat.title_problem(title) is null),
  add constraint conversations_metadata_valid check (chat.conversation_metadata_problem(metadata) is null),
  add constraint conversations_metadata_depth check (not chat.metadata_too_deep(metadata));

alter table chat.messages
  alter column role type text,
  alter column content type text,
  alter column client_msg_id type text,
  add constraint messages_role_known check (chat.role_problem(role) is null),
  add constraint messages_content_length check (chat.content_problem(content) is null),
  add constraint messages_client_msg_id_length check (chat.client_msg_id_problem(client_msg_id) is null);

drop domain chat.message_role, chat.message_content, chat.client_msg_id, chat.conversation_title,
  chat.conversation_metadata, chat.task_title, chat.task_description;

create or replace function chat.content_problem(content text) returns text
  language sql immutable parallel safe security invoker
return case
  when pg_catalog.char_length(content) > 10000
    then 'is longer than 10000 characters (' || pg_catalog.char_length(content) || ' characters)'
end;

commit;
