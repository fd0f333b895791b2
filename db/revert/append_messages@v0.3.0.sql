-- Revert chat:append_messages from pg

begin;

drop function chat.append_messages(uuid, jsonb);

commit;
