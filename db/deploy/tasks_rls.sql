-- Deploy chat:tasks_rls to pg (reworked)
-- requires: tasks_rls@v0.5.0
-- requires: current_user_id
--
-- The same four policies, restated with the function's new name: current_user_id
-- moved to chat_private (change current_user_id), and the policies, which ask it
-- by oid, followed it already. Restated so that the script says what they ask.

begin;

alter policy tasks_select on chat.tasks
  using (user_id = chat_private.current_user_id());

alter policy tasks_insert on chat.tasks
  with check (user_id = chat_private.current_user_id());

alter policy tasks_update on chat.tasks
  using (user_id = chat_private.current_user_id())
  with check (user_id = chat_private.current_user_id());

alter policy tasks_delete on chat.tasks
  using (user_id = chat_private.current_user_id());

-- Each policy says in the catalog what it lets the runtime role do, for
-- auditors reading it with psql.
comment on policy tasks_select on chat.tasks is
  'chat_app sees only the current user''s tasks: user_id = chat_private.current_user_id(), none when app.user_id is unset.';
comment on policy tasks_insert on chat.tasks is
  'chat_app inserts only rows whose user_id is the current user (chat_private.current_user_id()).';
comment on policy tasks_update on chat.tasks is
  'chat_app updates only the current user''s tasks, and cannot hand a row to another user (user_id stays the current user''s).';
comment on policy tasks_delete on chat.tasks is
  'chat_app deletes only the current user''s tasks (user_id = chat_private.current_user_id()).';

commit;
