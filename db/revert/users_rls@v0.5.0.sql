-- Revert chat:users_rls from pg (reworked)
--
-- Back to the policies of v0.1.0: current_user_id() in a sub-select.

begin;

alter policy users_select on chat.users
  using (id = (select chat.current_user_id()));

alter policy users_insert on chat.users
  with check (id = (select chat.current_user_id()));

alter policy users_update on chat.users
  using (id = (select chat.current_user_id()))
  with check (id = (select chat.current_user_id()));

alter policy users_delete on chat.users
  using (id = (select chat.current_user_id()));

commit;
