-- Deploy chat:message_metadata_limit to pg (reworked)
-- requires: message_metadata_limit@v0.4.0
-- requires: metadata_depth
-- requires: begin_turn
--
-- What a message's metadata may be is still said once, by
-- chat.message_metadata_problem (a JSON object of at most 1 MiB as text) and
-- chat.metadata_too_deep (100 levels). They are now asked by the column's
-- type, the domain chat.message_metadata, instead of by two checks of the
-- table. PostgreSQL plans a table's checks again for every statement that
-- writes a row (reading the functions' bodies again to inline them), and
-- checks all of them on every update, whatever it changes; a domain's checks
-- are planned once per session and checked only where a value of the domain
-- is written. An append paid for the former about a quarter of its time.

begin;

create domain chat.message_metadata as jsonb
  constraint messages_metadata_valid check (chat.message_metadata_problem(value) is null)
  constraint messages_metadata_depth check (not chat.metadata_too_deep(value));

comment on domain chat.message_metadata is
  'A message''s metadata: what chat.message_metadata_problem and chat.metadata_too_deep allow (a JSON object of at most 1 MiB as text, nested at most 100 levels).';

-- The column takes the domain: its values are checked once, under the lock
-- the alter takes, and not rewritten. On a large table, deploy this in a
-- quiet hour.
alter table chat.messages
  drop constraint messages_metadata_valid,
  drop constraint messages_metadata_depth,
  alter column metadata type chat.message_metadata;

-- The rows the functions return take the table's types, as their queries
-- give them.
alter type chat.appended_message alter attribute metadata type chat.message_metadata;
alter type chat.turn_part alter attribute metadata type chat.message_metadata;

commit;
