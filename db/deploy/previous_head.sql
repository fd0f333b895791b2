-- Deploy chat:previous_head to pg
-- requires: message_parents
--
-- An append follows the head and becomes it. One UPDATE of the conversation
-- can do all of it under the row's lock (count, head, clock) and return what
-- the insert needs, but RETURNING gives only new values, and the new message
-- follows the old head. So the update also sets previous_head_seq to the head
-- it replaces, and returns that: the message the new one follows, read under
-- the lock, with no separate locking read (a row lock is a write of its own,
-- which cost every append about 5 %).

begin;

alter table chat.conversations add column previous_head_seq bigint;

comment on column chat.conversations.previous_head_seq is
  'The head before the last append moved it: what that append''s UPDATE returned as the message its first new message follows. Written by the appends only; it means nothing to a reader.';

grant update (previous_head_seq) on chat.conversations to chat_app;

commit;
