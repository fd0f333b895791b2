-- Deploy chat:users_rls to pg
-- requires: users
--
-- One policy per command for the runtime role, each comparing the row's user
-- with the current one; current_user_id() is wrapped in a sub-select so that
-- it is evaluated once per statement, not once per row. The auditor reads
-- every row and has no policy, hence no row, for any write.

begin;

create policy users_select on chat.users
  for select to chat_app
  using (id = (select chat.current_user_id()));

create policy users_insert on chat.users
  for insert to chat_app
  with check (id = (select chat.current_user_id()));

create policy users_update on chat.users
  for update to chat_app
  using (id = (select chat.current_user_id()))
  with check (id = (select chat.current_user_id()));

create policy users_delete on chat.users
  for delete to chat_app
  using (id = (select chat.current_user_id()));

create policy users_audit on chat.users
  for select to chat_auditor
  using (true);

commit;
