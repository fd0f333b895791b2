-- Revert chat:lock_turn from pg (reworked)
--
-- Back to the v0.5.0 body, naming chat.require_user_id (whose own revert,
-- which runs after this one, brings it back there), in chat.

begin;

create or replace function chat_private.lock_turn(conversation_id uuid, seq bigint)
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

alter function chat_private.lock_turn(uuid, bigint) set schema chat;

commit;
