-- Revert chat:rename_conversation from pg

begin;

drop function chat.rename_conversation(uuid, text);

commit;
