-- Revert chat:edit_message from pg

begin;

drop function chat.edit_message(uuid, bigint, text, jsonb, text);

commit;
