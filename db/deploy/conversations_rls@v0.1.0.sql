-- Deploy chat:conversations_rls to pg
-- requires: conversations
--
-- One policy per command for the runtime role: only the current user's
-- conversations, and no update can hand one to someone else. The auditor
-- reads all.

begin;

create policy conversations_select on chat.conversations
  for select to chat_app
  using (user_id = (select chat.current_user_id()));

create policy conversations_insert on chat.conversations
  for insert to chat_app
  with check (user_id = (select chat.current_user_id()));

create policy conversations_update on chat.conversations
  for update to chat_app
  using (user_id = (select chat.current_user_id()))
  with check (user_id = (select chat.current_user_id()));

create policy conversations_delete on chat.conversations
  for delete to chat_app
  using (user_id = (select chat.current_user_id()));

create policy conversations_audit on chat.conversations
  for select to chat_auditor
  using (true);

commit;
