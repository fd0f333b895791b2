-- Deploy chat:lock_turn to pg
-- requires: turns_rls
-- requires: conversations_rls
--
-- Every function that changes a turn locks the conversation's row first, as
-- every function that adds or removes messages does, and the turn's after:
-- one order for all of them, so that they queue and never deadlock. Finding
-- the turn is the same for all of them, and so is its error: a conversation
-- or a message that is missing or someone else's is P0002, the same for both.

begin;

create function chat.lock_turn(conversation_id uuid, seq bigint)
returns chat.turns as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_turn chat.turns;
begin
  perform
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = lock_turn.conversation_id
     for update;
  if found then
    select t.* into v_turn
      from chat.turns t
     where t.user_id = v_user_id
       and t.conversation_id = lock_turn.conversation_id
       and t.seq = lock_turn.seq
       for update;
  end if;
  if not found then
    raise exception 'turn % of conversation % not found', lock_turn.seq, lock_turn.conversation_id
      using errcode = 'P0002';
  end if;
  return v_turn;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.lock_turn(uuid, bigint) is
  'Locks the current user''s conversation, then its turn whose user message is seq, and returns the turn. P0002 when either is missing or someone else''s.';

revoke all on function chat.lock_turn(uuid, bigint) from public;
grant execute on function chat.lock_turn(uuid, bigint) to chat_app;

commit;
