-- Revert chat:open_event_stream from pg

begin;

drop function chat.open_event_stream(bigint, integer);

commit;
