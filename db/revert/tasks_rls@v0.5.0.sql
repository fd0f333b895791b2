-- Revert chat:tasks_rls from pg (reworked)
--
-- Back to the policies of v0.1.0: current_user_id() in a sub-select.

begin;

alter policy tasks_select on chat.tasks
  using (user_id = (select chat.current_user_id()));

alter policy tasks_insert on chat.tasks
  with check (user_id = (select chat.current_user_id()));

alter policy tasks_update on chat.tasks
  using (user_id = (select chat.current_user_id()))
  with check (user_id = (select chat.current_user_id()));

alter policy tasks_delete on chat.tasks
  using (user_id = (select chat.current_user_id()));

commit;
