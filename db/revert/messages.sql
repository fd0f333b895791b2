-- Revert chat:messages from pg

begin;

drop table chat.messages;

commit;
