-- Deploy chat:turns_rls to pg
-- requires: turns
--
-- One policy per command for the runtime role: only the current user's
-- turns, and no update can hand one to someone else. It holds no delete
-- privilege (a turn goes with its message); that policy still bounds any
-- grant a later change might add. The auditor reads all. current_user_id()
-- is called bare, as in every policy since the rework of current_user_id:
-- the planner inlines it.

begin;

create policy turns_select on chat.turns
  for select to chat_app
  using (user_id = chat.current_user_id());

create policy turns_insert on chat.turns
  for insert to chat_app
  with check (user_id = chat.current_user_id());

create policy turns_update on chat.turns
  for update to chat_app
  using (user_id = chat.current_user_id())
  with check (user_id = chat.current_user_id());

create policy turns_delete on chat.turns
  for delete to chat_app
  using (user_id = chat.current_user_id());

create policy turns_audit on chat.turns
  for select to chat_auditor
  using (true);

commit;
