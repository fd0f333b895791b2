-- Deploy chat:message_tokens_before to pg
-- requires: message_tokens
--
-- Where a token budget cuts the model's context is the oldest message whose
-- own tokens and those after it fit. Walking back row by row to find it
-- costs a row read per message returned before a single one is returned;
-- with a running total it is one probe of an index. tokens_before is the sum
-- of the tokens of the messages before this one in its conversation: the
-- messages from seq on weigh (the newest one's tokens_before + tokens) minus
-- this one's tokens_before. Rows are never updated, and pop_message only
-- takes the last one, so a total stays true once written.

begin;

-- The running total. Existing rows get theirs from a window over their
-- conversation, by the table's owner: row security would show an owner
-- without BYPASSRLS no row at all, so the owner lifts FORCE for the one
-- statement, inside this transaction.
alter table chat.messages add column tokens_before bigint;

alter table chat.messages no force row level security;
update chat.messages m
   set tokens_before = r.tokens_before
  from (select w.user_id, w.id,
               coalesce(pg_catalog.sum(w.tokens) over (partition by w.user_id, w.conversation_id order by w.seq
                                                      rows between unbounded preceding and 1 preceding), 0)
                 as tokens_before
          from chat.messages w) r
 where m.user_id = r.user_id and m.id = r.id;
alter table chat.messages force row level security;

alter table chat.messages alter column tokens_before set not null;

-- The index the cut is one probe of: within a conversation, tokens_before
-- grows with seq (the ties of empty messages ordered by seq).
create index messages_tokens_before_idx on chat.messages (user_id, conversation_id, tokens_before, seq);

comment on column chat.messages.tokens_before is
  'The sum of the tokens of the messages before this one in its conversation: a running total, so that a token budget''s cut is one index probe (chat.fetch_context). Filled on insert by the trigger messages_tokens_before.';

-- Every insert gets it from the message before it, which every writer has
-- just locked and read the conversation for. When there is none to be seen
-- it stays NULL and the row is refused, never given a total of 0 that would
-- make budgets lie: by row security first when the row is not the inserting
-- user's (their rows are all it can see), by NOT NULL otherwise.
create function chat_private.messages_tokens_before() returns trigger as $$
begin
  if new.seq = 1 then
    new.tokens_before := 0;
    return new;
  end if;
  select p.tokens_before + p.tokens into new.tokens_before
    from chat.messages p
   where p.user_id = new.user_id and p.conversation_id = new.conversation_id and p.seq = new.seq - 1;
  return new;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.messages_tokens_before() is
  'Trigger of chat.messages: a row inserted without tokens_before gets the message before it''s tokens_before + tokens (0 for the first; NULL, refused by NOT NULL, when there is none).';

revoke all on function chat_private.messages_tokens_before() from public;

-- Named to fire after messages_estimate_tokens (triggers fire in name order),
-- so that the message before it, inserted by the same statement, has its
-- tokens.
create trigger messages_tokens_before
  before insert on chat.messages
  for each row when (new.tokens_before is null)
  execute function chat_private.messages_tokens_before();

-- The writers' rows are the columns of chat.messages and then replayed.
alter type chat.appended_message
  drop attribute replayed,
  add attribute tokens_before bigint,
  add attribute replayed boolean;

alter type chat.turn_part
  drop attribute replayed,
  add attribute tokens_before bigint,
  add attribute replayed boolean;

commit;
