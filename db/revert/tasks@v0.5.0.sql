-- Revert chat:tasks from pg

begin;

drop table chat.tasks;
drop function chat.tasks_touch_updated_at();

commit;
