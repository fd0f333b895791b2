-- Revert chat:conversations from pg

begin;

drop table chat.conversations;

commit;
