-- Revert chat:list_conversations from pg

begin;

drop function chat.list_conversations(integer, timestamptz, uuid);

commit;
