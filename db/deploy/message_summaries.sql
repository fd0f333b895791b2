-- Deploy chat:message_summaries to pg
-- requires: message_tokens
--
-- Compaction that keeps the history: a summary is a run of messages appended
-- at the end of a conversation that stands in, for the model, for the
-- messages from summary_from through summary_through (everything after them
-- up to the summary itself). The model's view (chat.fetch_context) skips the
-- messages a summary covers; people's views (the message routes, search,
-- export, the audit) still show every message, and the summary's rows carry
-- the range, so that a client can show or hide them. Nothing is deleted.

begin;

alter table chat.messages
  add column summary_from bigint,
  add column summary_through bigint,
  add constraint messages_summary_range check (
    (summary_from is null) = (summary_through is null)
    and summary_from >= 1 and summary_from <= summary_through and summary_through < seq
  );

comment on column chat.messages.summary_from is
  'On a summary''s rows: the first message it stands in for in the model''s view; NULL on every other message.';
comment on column chat.messages.summary_through is
  'On a summary''s rows: the last message it stands in for (the one before the summary''s first row); NULL on every other message.';

-- A conversation's summaries, found without reading its other messages (a
-- compaction checks that the messages it covers are still the model's; a
-- page of the model's view finds where a stretch of it ends).
-- Ordinary appends never enter it.
create index messages_summaries_idx on chat.messages (user_id, conversation_id, seq)
  where summary_from is not null;

comment on index chat.messages_summaries_idx is
  'compact_messages and fetch_context: a conversation''s summary rows, without reading its other messages.';

alter type chat.appended_message
  drop attribute replayed,
  add attribute summary_from bigint,
  add attribute summary_through bigint,
  add attribute replayed boolean;

alter type chat.turn_part
  drop attribute replayed,
  add attribute summary_from bigint,
  add attribute summary_through bigint,
  add attribute replayed boolean;

commit;
