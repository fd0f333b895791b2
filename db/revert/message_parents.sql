-- Revert chat:message_parents from pg

begin;

alter type chat.context_message
  drop attribute over_budget,
  drop attribute stretch_from,
  drop attribute parent_seq,
  add attribute over_budget boolean;

alter type chat.turn_part
  drop attribute replayed,
  drop attribute stretch_from,
  drop attribute parent_seq,
  add attribute replayed boolean;

alter type chat.appended_message
  drop attribute replayed,
  drop attribute stretch_from,
  drop attribute parent_seq,
  add attribute replayed boolean;

drop index chat.messages_tokens_before_idx;
create index messages_tokens_before_idx on chat.messages (user_id, conversation_id, tokens_before, seq);

drop trigger conversations_default_head on chat.conversations;
drop function chat_private.conversations_default_head();

drop trigger messages_tokens_before on chat.messages;

-- the trigger of message_tokens_before, as it was
create or replace function chat_private.messages_tokens_before() returns trigger as $$
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

create trigger messages_tokens_before
  before insert on chat.messages
  for each row when (new.tokens_before is null)
  execute function chat_private.messages_tokens_before();

comment on column chat.messages.tokens_before is
  'The sum of the tokens of the messages before this one in its conversation: a running total, so that a token budget''s cut is one index probe (chat.fetch_context). Filled on insert by the trigger messages_tokens_before.';

alter table chat.conversations
  drop constraint conversations_head,
  drop column head_seq;

alter table chat.messages
  drop constraint messages_stretch_within,
  drop constraint messages_parent_precedes,
  drop column stretch_from,
  drop column parent_seq;

commit;
