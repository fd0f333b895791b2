-- Revert chat:delete_conversation from pg

begin;

drop function chat.delete_conversation(uuid);

commit;
