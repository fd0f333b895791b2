-- Revert chat:delete_user from pg

begin;

drop function chat.delete_user();

commit;
