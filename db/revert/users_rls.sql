-- Revert chat:users_rls from pg (reworked)
--
-- The policies' comments go. Their expressions stay: they ask current_user_id
-- by oid, so they follow it back to chat when the revert of current_user_id
-- (which runs after this one) moves it there, and are then what v0.5.0 had.

begin;

comment on policy users_select on chat.users is null;
comment on policy users_insert on chat.users is null;
comment on policy users_update on chat.users is null;
comment on policy users_delete on chat.users is null;

commit;
