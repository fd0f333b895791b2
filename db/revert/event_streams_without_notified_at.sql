-- Revert chat:event_streams_without_notified_at from pg

begin;

alter table chat_private.event_streams add column notified_at timestamptz;

comment on column chat_private.event_streams.notified_at is
  'When a change of the user was last announced (NOTIFY): the changes of the next half second are logged but not announced, and the instances read them from the log half a second after the announcement.';

commit;
