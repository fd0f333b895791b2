-- Revert chat:append_message from pg

begin;

drop function chat.append_message(uuid, text, text, jsonb, text);
drop type chat.appended_message;

commit;
