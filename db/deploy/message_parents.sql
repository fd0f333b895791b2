-- Deploy chat:message_parents to pg
-- requires: message_tokens_before
-- requires: fetch_context
--
-- People edit a message they sent, ask for another answer, and switch back to
-- the earlier versions. A conversation becomes a tree of messages with one
-- active path: each message keeps its seq (creation order, its identity in
-- the conversation) and names the message it follows, parent_seq (NULL for a
-- first message); the conversation names the active path's last message,
-- head_seq (NULL when empty). Every writer appends after the head and moves
-- it, so a conversation nobody branches is a single path, each message
-- following the one before it, as before.
--
-- A path is read by stretches: stretch_from is the first message of the run
-- of consecutive messages, each following the one before it, that this one
-- ends. A conversation nobody branches is one stretch; each branch starts
-- another. tokens_before sums the messages before this one on its path, and
-- the budget's index is per stretch, so that a cut stays one probe however
-- many branches there are.

begin;

-- The message each follows. Existing messages follow the one before them: set
-- in the table's one rewrite, as a generated column whose expression then goes.
alter table chat.messages
  add column parent_seq bigint generated always as (nullif(seq - 1, 0)) stored;
alter table chat.messages alter column parent_seq drop expression;

-- Each existing conversation is one stretch, from its first message: a
-- constant default, which rewrites nothing.
alter table chat.messages add column stretch_from bigint not null default 1;
alter table chat.messages alter column stretch_from drop default;

-- A message follows one created before it (so a path ascends in seq), and its
-- stretch starts at or before it.
alter table chat.messages
  add constraint messages_parent_precedes check (parent_seq >= 1 and parent_seq < seq),
  add constraint messages_stretch_within check (stretch_from >= 1 and stretch_from <= seq);

comment on column chat.messages.parent_seq is
  'The message this one follows (its seq, in the same conversation); NULL for a first message. A conversation is a tree of messages; conversations.head_seq ends its active path.';
comment on column chat.messages.stretch_from is
  'The first message of the stretch this one ends: the run of consecutive messages, each following the one before it (parent_seq = seq - 1). A path is read stretch by stretch; a conversation nobody branches is one stretch, from 1.';
comment on column chat.messages.tokens_before is
  'The sum of the tokens of the messages before this one on its path (its ancestors): a running total, so that a token budget''s cut is one index probe (chat.fetch_context). Filled on insert by the trigger messages_tokens_before.';

-- The active path's last message. Existing conversations end at their last
-- message (a rewrite of the conversations, as for the messages).
alter table chat.conversations
  add column head_seq bigint generated always as (nullif(message_count, 0)) stored;
alter table chat.conversations alter column head_seq drop expression;

alter table chat.conversations
  add constraint conversations_head check ((head_seq is null) = (message_count = 0)
                                           and head_seq >= 1 and head_seq <= message_count);

-- The writers move it, as the runtime role.
grant update (head_seq) on chat.conversations to chat_app;

comment on column chat.conversations.head_seq is
  'The last message of the active path (the path that fetch_recent, fetch_messages and fetch_context read, and after which every writer appends); NULL when the conversation is empty.';

-- A message's place, filled on insert from the message it follows, which its
-- writer has just locked the conversation for: the running total and the
-- stretch. A row written by hand that names no parent follows the message
-- before it (the API's writers always name one; a second first message, an
-- edit of the first, fills its place itself). With no parent to be seen the
-- row is refused, by row security first when it is not the inserting user's
-- (their rows are all it sees), by NOT NULL otherwise.
drop trigger messages_tokens_before on chat.messages;

create or replace function chat_private.messages_tokens_before() returns trigger as $$
begin
  if new.parent_seq is null and new.seq > 1 then
    new.parent_seq := new.seq - 1;
  end if;
  if new.parent_seq is null then
    new.tokens_before := 0;
    new.stretch_from := new.seq;
    return new;
  end if;
  select p.tokens_before + p.tokens, case when p.seq = new.seq - 1 then p.stretch_from else new.seq end
    into new.tokens_before, new.stretch_from
    from chat.messages p
   where p.user_id = new.user_id and p.conversation_id = new.conversation_id and p.seq = new.parent_seq;
  return new;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.messages_tokens_before() is
  'Trigger of chat.messages: a row inserted without tokens_before or stretch_from gets them from the message it follows (parent_seq; seq - 1 when it names none and is not the first): its tokens_before + tokens, and its stretch when it is the message just before. NULL, refused by NOT NULL, when that message is not there.';

-- After messages_estimate_tokens (triggers fire in name order), so that the
-- message before, inserted by the same statement, has its tokens.
create trigger messages_tokens_before
  before insert on chat.messages
  for each row when (new.tokens_before is null or new.stretch_from is null)
  execute function chat_private.messages_tokens_before();

-- A conversation written by hand with messages ends at its last one.
create function chat_private.conversations_default_head() returns trigger as $$
begin
  new.head_seq := new.message_count;
  return new;
end
$$ language plpgsql security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.conversations_default_head() is
  'Trigger of chat.conversations: a row inserted with messages (message_count > 0) and no head_seq ends at its last message.';

revoke all on function chat_private.conversations_default_head() from public;

create trigger conversations_default_head
  before insert on chat.conversations
  for each row when (new.head_seq is null and new.message_count > 0)
  execute function chat_private.conversations_default_head();

-- The budget's index, per stretch: within one, tokens_before grows with seq.
drop index chat.messages_tokens_before_idx;
create index messages_tokens_before_idx on chat.messages (user_id, conversation_id, stretch_from, tokens_before, seq);

-- The writers' and readers' rows are the columns of chat.messages, then
-- replayed or over_budget.
alter type chat.appended_message
  drop attribute replayed,
  add attribute parent_seq bigint,
  add attribute stretch_from bigint,
  add attribute replayed boolean;

alter type chat.turn_part
  drop attribute replayed,
  add attribute parent_seq bigint,
  add attribute stretch_from bigint,
  add attribute replayed boolean;

alter type chat.context_message
  drop attribute over_budget,
  add attribute parent_seq bigint,
  add attribute stretch_from bigint,
  add attribute over_budget boolean;

commit;
