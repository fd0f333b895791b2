-- Revert chat:check_message from pg

begin;

drop function chat.check_message(text, text, jsonb, text, text);

commit;
