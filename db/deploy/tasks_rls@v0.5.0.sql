-- Deploy chat:tasks_rls to pg (reworked)
-- requires: tasks_rls@v0.1.0
-- requires: current_user_id
--
-- The same four policies, calling current_user_id() bare instead of in a
-- sub-select. Since current_user_id has a SQL-standard body, the planner
-- inlines it: the row's user is compared with the setting itself, an index
-- condition evaluated once per scan, with no sub-plan ahead of the scan and
-- no function call per row. The functions filter by the same expression, so
-- that a query of theirs under these policies is planned as it would be
-- without them.

begin;

alter policy tasks_select on chat.tasks
  using (user_id = chat.current_user_id());

alter policy tasks_insert on chat.tasks
  with check (user_id = chat.current_user_id());

alter policy tasks_update on chat.tasks
  using (user_id = chat.current_user_id())
  with check (user_id = chat.current_user_id());

alter policy tasks_delete on chat.tasks
  using (user_id = chat.current_user_id());

commit;
