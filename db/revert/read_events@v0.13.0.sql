-- Revert chat:read_events from pg

begin;

drop function chat.read_events(uuid[], bigint[], integer);

commit;
