-- Revert chat:conversations_rls from pg (reworked)
--
-- Back to the policies of v0.1.0: current_user_id() in a sub-select.

begin;

alter policy conversations_select on chat.conversations
  using (user_id = (select chat.current_user_id()));

alter policy conversations_insert on chat.conversations
  with check (user_id = (select chat.current_user_id()));

alter policy conversations_update on chat.conversations
  using (user_id = (select chat.current_user_id()))
  with check (user_id = (select chat.current_user_id()));

alter policy conversations_delete on chat.conversations
  using (user_id = (select chat.current_user_id()));

commit;
