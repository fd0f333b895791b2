-- Deploy chat:tasks to pg (reworked)
-- requires: tasks@v0.5.0
-- requires: private_schema
--
-- The trigger function tasks_touch_updated_at is not the API: moved to
-- chat_private. The trigger calls it by oid and follows; its comment and its
-- rights (none for PUBLIC) go with it. Its body names no helper of chat.

begin;

alter function chat.tasks_touch_updated_at() set schema chat_private;

commit;
