-- Deploy chat:turns to pg
-- requires: messages
--
-- A chat turn: a user's message, the responder's work on it, and its reply.
-- The backend is stateless and may run on several instances, so whether a
-- turn's responder runs is decided here, not in any one process: begin_turn
-- stores the message and claims its turn for one attempt, for a lease; a
-- retry of the same message (its client_msg_id) finds the turn running (and
-- waits), done (and gets the stored reply), or failed or abandoned by a
-- process that died (and runs it again, as a new attempt). finish_turn stores
-- the reply and ends the claim.
--
-- A turn is named by its user message, and goes with it: the key is the
-- message's own (user_id, conversation_id, seq).

begin;

create table chat.turns (
  user_id         uuid not null default chat.current_user_id(),
  conversation_id uuid not null,
  seq             bigint not null,
  -- The client_msg_id of a turn that opened its conversation: a retry of it
  -- comes without a conversation (the client never learnt which), and finds
  -- the conversation by this.
  opening_key     text
                  constraint turns_opening_key_length check (pg_catalog.char_length(opening_key) between 1 and 200),
  attempt         uuid not null default pg_catalog.gen_random_uuid(),
  attempts        integer not null default 1
                  constraint turns_attempts_positive check (attempts > 0),
  running_until   timestamptz,
  reply_seq       bigint,
  created_at      timestamptz not null default pg_catalog.now(),
  finished_at     timestamptz,
  primary key (user_id, conversation_id, seq),
  constraint turns_message_fkey foreign key (user_id, conversation_id, seq)
    references chat.messages (user_id, conversation_id, seq) on delete cascade,
  -- A reply that is removed (pop_message, clear_conversation) leaves the turn
  -- without one: a retry then runs it again.
  constraint turns_reply_fkey foreign key (user_id, conversation_id, reply_seq)
    references chat.messages (user_id, conversation_id, seq) on delete set null (reply_seq),
  constraint turns_reply_after_message check (reply_seq > seq),
  constraint turns_done_or_running check (reply_seq is null or running_until is null)
);

alter table chat.turns enable row level security;
alter table chat.turns force row level security;

-- One conversation per opening key and user: racing retries of an opening
-- turn open one conversation between them.
create unique index turns_opening_key on chat.turns (user_id, opening_key)
  where opening_key is not null;

-- Removing a message looks for the turn it answers (the foreign key's
-- action): by index, not by a scan of the conversation's turns.
create index turns_reply_idx on chat.turns (user_id, conversation_id, reply_seq)
  where reply_seq is not null;

comment on table chat.turns is
  'Chat turns: which attempt answers a user message, until when, and its reply. Each user sees only their own (RLS on app.user_id); written by chat.begin_turn, chat.finish_turn, chat.settle_turn and chat.fail_turn.';
comment on column chat.turns.seq is
  'The turn''s user message (its seq in the conversation); the turn goes when the message goes.';
comment on column chat.turns.opening_key is
  'The client_msg_id of a turn that opened its conversation, by which a retry finds that conversation; NULL otherwise.';
comment on column chat.turns.attempt is
  'The latest attempt at answering: only it may release the claim (chat.fail_turn).';
comment on column chat.turns.attempts is
  'How many attempts have run: 1, and one more for each retry that ran the responder again.';
comment on column chat.turns.running_until is
  'While in the future, an attempt is answering and a retry waits; NULL once it is done or failed. A lease that runs out frees the turn for a retry.';
comment on column chat.turns.reply_seq is
  'The reply''s seq once it is stored; NULL before, or once the reply is removed.';
comment on column chat.turns.finished_at is
  'When the reply was stored.';

grant select, insert on chat.turns to chat_app;
grant update (attempt, attempts, running_until, reply_seq, finished_at) on chat.turns to chat_app;
grant select on chat.turns to chat_auditor;

commit;
