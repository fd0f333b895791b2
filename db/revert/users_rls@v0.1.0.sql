-- Revert chat:users_rls from pg

begin;

drop policy users_audit on chat.users;
drop policy users_delete on chat.users;
drop policy users_update on chat.users;
drop policy users_insert on chat.users;
drop policy users_select on chat.users;

commit;
