-- Revert chat:event_kind from pg
--
-- The kinds checked by the table's CHECK again, the column text.

begin;

alter table chat.events
  alter column kind type text,
  add constraint events_kind check (kind in ('stream_opened', 'message', 'conversation_created',
                                             'conversation_renamed', 'conversation_deleted', 'head_switched'));

drop domain chat.event_kind;

commit;
