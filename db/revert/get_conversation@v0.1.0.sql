-- Revert chat:get_conversation from pg

begin;

drop function chat.get_conversation(uuid);

commit;
