-- Deploy chat:messages_rls to pg
-- requires: messages
--
-- One policy per command for the runtime role. It holds no update or delete
-- privilege on messages today; those two policies still bound any grant a
-- later change might add. The auditor reads all.

begin;

create policy messages_select on chat.messages
  for select to chat_app
  using (user_id = (select chat.current_user_id()));

create policy messages_insert on chat.messages
  for insert to chat_app
  with check (user_id = (select chat.current_user_id()));

create policy messages_update on chat.messages
  for update to chat_app
  using (user_id = (select chat.current_user_id()))
  with check (user_id = (select chat.current_user_id()));

create policy messages_delete on chat.messages
  for delete to chat_app
  using (user_id = (select chat.current_user_id()));

create policy messages_audit on chat.messages
  for select to chat_auditor
  using (true);

commit;
