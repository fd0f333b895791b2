-- Revert chat:announce_after from pg

begin;

drop function chat_private.await_announcement(bigint);
alter table chat_private.event_streams drop column announce_after;

commit;
