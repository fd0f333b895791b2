-- Revert chat:compact_messages from pg

begin;

drop function chat.compact_messages(uuid, bigint, jsonb, uuid);

commit;
