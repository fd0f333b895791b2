-- Deploy chat:tasks_rls to pg
-- requires: tasks
--
-- One policy per command for the runtime role: only the current user's rows,
-- and no update can hand a row to someone else. The auditor reads all.

begin;

create policy tasks_select on chat.tasks
  for select to chat_app
  using (user_id = (select chat.current_user_id()));

create policy tasks_insert on chat.tasks
  for insert to chat_app
  with check (user_id = (select chat.current_user_id()));

create policy tasks_update on chat.tasks
  for update to chat_app
  using (user_id = (select chat.current_user_id()))
  with check (user_id = (select chat.current_user_id()));

create policy tasks_delete on chat.tasks
  for delete to chat_app
  using (user_id = (select chat.current_user_id()));

create policy tasks_audit on chat.tasks
  for select to chat_auditor
  using (true);

commit;
