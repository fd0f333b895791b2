-- Revert chat:messages_rls from pg (reworked)
--
-- The policies' comments go. Their expressions stay: they ask current_user_id
-- by oid, so they follow it back to chat when the revert of current_user_id
-- (which runs after this one) moves it there, and are then what v0.5.0 had.

begin;

comment on policy messages_select on chat.messages is null;
comment on policy messages_insert on chat.messages is null;
comment on policy messages_update on chat.messages is null;
comment on policy messages_delete on chat.messages is null;

commit;
