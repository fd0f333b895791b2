-- Revert chat:clear_conversation from pg

begin;

drop function chat.clear_conversation(uuid);

commit;
