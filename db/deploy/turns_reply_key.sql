-- Deploy chat:turns_reply_key to pg
-- requires: turns
-- requires: limits
--
-- A regenerated answer is a new reply to a turn that has one: the turn is
-- opened again, and its reply_key (the client_msg_id of the request that
-- opened it) is stored on the reply, so that a retry of that request finds
-- the reply it stored rather than answering once more.

begin;

alter table chat.turns add column reply_key chat.client_msg_id;

comment on column chat.turns.reply_key is
  'The client_msg_id of the request that asked for the turn''s latest answer again (regenerate), stored on that reply: a retry of it finds the reply. NULL for a turn answered once.';

grant update (reply_key) on chat.turns to chat_app;

commit;
