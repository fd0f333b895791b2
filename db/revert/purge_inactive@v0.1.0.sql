-- Revert chat:purge_inactive from pg

begin;

drop function chat.purge_inactive(interval, integer);
drop policy conversations_purge_delete on chat.conversations;
drop policy conversations_purge_select on chat.conversations;
revoke select, delete on chat.conversations from chat_operator;

commit;
