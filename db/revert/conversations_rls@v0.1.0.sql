-- Revert chat:conversations_rls from pg

begin;

drop policy conversations_audit on chat.conversations;
drop policy conversations_delete on chat.conversations;
drop policy conversations_update on chat.conversations;
drop policy conversations_insert on chat.conversations;
drop policy conversations_select on chat.conversations;

commit;
