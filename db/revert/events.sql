-- Revert chat:events from pg

begin;

drop table chat_private.event_streams;
drop table chat.events;

commit;
