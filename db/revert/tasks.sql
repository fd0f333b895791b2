-- Revert chat:tasks from pg (reworked)
--
-- The trigger function back in chat, where tasks@v0.5.0 made it; the trigger
-- follows it by oid.

begin;

alter function chat_private.tasks_touch_updated_at() set schema chat;

commit;
