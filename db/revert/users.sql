-- Revert chat:users from pg

begin;

drop table chat.users;

commit;
