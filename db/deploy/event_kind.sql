-- Deploy chat:event_kind to pg
-- requires: events
-- requires: read_events
-- requires: open_event_stream
--
-- The log's kinds, checked by a domain instead of a table CHECK. PostgreSQL
-- prepares a table's CHECK constraints again for every statement that
-- inserts into it (their stored expressions read and planned), while a
-- domain's check is planned once and kept in the type cache: the kinds'
-- CHECK took ~8 µs of the ~48 µs chat_private.announce spends on a followed
-- append, the domain ~2 µs (one client, pgbench, track_functions). The rule
-- is the same; the column changes type, which rewrites the table under its
-- lock (the log is small: what its users' current leases logged). The
-- readers cast the kind back to text (reworked before this change).

begin;

create domain chat.event_kind as text
  constraint event_kind_known check (value in ('stream_opened', 'message', 'conversation_created',
                                               'conversation_renamed', 'conversation_deleted', 'head_switched'));

comment on domain chat.event_kind is
  'The kind of a live update (chat.events.kind): message, conversation_created, conversation_renamed, conversation_deleted, head_switched, or stream_opened (where an unbroken run of the log begins).';

alter table chat.events
  drop constraint events_kind,
  alter column kind type chat.event_kind;

commit;
