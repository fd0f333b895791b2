-- Revert chat:create_conversation from pg

begin;

drop function chat.create_conversation(text, jsonb);

commit;
