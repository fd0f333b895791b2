-- Revert chat:conversations_rls from pg (reworked)
--
-- The policies' comments go. Their expressions stay: they ask current_user_id
-- by oid, so they follow it back to chat when the revert of current_user_id
-- (which runs after this one) moves it there, and are then what v0.5.0 had.

begin;

comment on policy conversations_select on chat.conversations is null;
comment on policy conversations_insert on chat.conversations is null;
comment on policy conversations_update on chat.conversations is null;
comment on policy conversations_delete on chat.conversations is null;

commit;
