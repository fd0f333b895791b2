-- Revert chat:chat_schema from pg

begin;

drop schema chat;

commit;
