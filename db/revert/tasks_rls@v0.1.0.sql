-- Revert chat:tasks_rls from pg

begin;

drop policy tasks_audit on chat.tasks;
drop policy tasks_delete on chat.tasks;
drop policy tasks_update on chat.tasks;
drop policy tasks_insert on chat.tasks;
drop policy tasks_select on chat.tasks;

commit;
