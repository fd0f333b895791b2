-- Revert chat:fetch_messages from pg

begin;

drop function chat.fetch_messages(uuid, bigint, integer);

commit;
