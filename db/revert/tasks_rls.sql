-- Revert chat:tasks_rls from pg (reworked)
--
-- The policies' comments go. Their expressions stay: they ask current_user_id
-- by oid, so they follow it back to chat when the revert of current_user_id
-- (which runs after this one) moves it there, and are then what v0.5.0 had.

begin;

comment on policy tasks_select on chat.tasks is null;
comment on policy tasks_insert on chat.tasks is null;
comment on policy tasks_update on chat.tasks is null;
comment on policy tasks_delete on chat.tasks is null;

commit;
