-- Revert chat:messages_rls from pg

begin;

drop policy messages_audit on chat.messages;
drop policy messages_delete on chat.messages;
drop policy messages_update on chat.messages;
drop policy messages_insert on chat.messages;
drop policy messages_select on chat.messages;

commit;
