-- Revert chat:deleted_users from pg

begin;

drop table chat.deleted_users;

commit;
