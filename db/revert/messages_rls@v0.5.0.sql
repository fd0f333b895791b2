-- Revert chat:messages_rls from pg (reworked)
--
-- Back to the policies of v0.1.0: current_user_id() in a sub-select.

begin;

alter policy messages_select on chat.messages
  using (user_id = (select chat.current_user_id()));

alter policy messages_insert on chat.messages
  with check (user_id = (select chat.current_user_id()));

alter policy messages_update on chat.messages
  using (user_id = (select chat.current_user_id()))
  with check (user_id = (select chat.current_user_id()));

alter policy messages_delete on chat.messages
  using (user_id = (select chat.current_user_id()));

commit;
