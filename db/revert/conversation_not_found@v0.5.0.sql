-- Revert chat:conversation_not_found from pg

begin;

drop function chat.conversation_not_found(uuid);

commit;
