-- Deploy chat:fail_turn to pg (reworked)
-- requires: fail_turn@v0.5.0
-- requires: lock_turn
--
-- As before, but claiming the turn through chat_private.lock_turn, where the
-- lock now lives: a plpgsql body names what it calls, so it follows no move.
-- Its grants and comment stay as they are (create or replace keeps them).

begin;

create or replace function chat.fail_turn(conversation_id uuid, seq bigint, attempt uuid)
returns boolean as $$
declare
  v_turn chat.turns := chat_private.lock_turn(fail_turn.conversation_id, fail_turn.seq);
begin
  if v_turn.reply_seq is not null or v_turn.running_until is null
     or v_turn.attempt is distinct from fail_turn.attempt then
    return false;
  end if;

  update chat.turns t
     set running_until = null
   where t.user_id = v_turn.user_id
     and t.conversation_id = v_turn.conversation_id
     and t.seq = v_turn.seq;
  return true;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
