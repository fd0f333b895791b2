-- Revert chat:message_element from pg

begin;

drop function chat_private.check_message_element(jsonb, text);

commit;
