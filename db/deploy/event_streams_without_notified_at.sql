-- Deploy chat:event_streams_without_notified_at to pg
-- requires: announce
-- requires: open_event_stream
--
-- When a user's change was last announced is no longer kept: an
-- announcement is now the first change of a user after a pause, which the
-- log itself tells (chat_private.announce, reworked), and nothing reads or
-- writes the column any more.

begin;

alter table chat_private.event_streams drop column notified_at;

commit;
