-- Revert chat:fail_turn from pg (reworked)
--
-- Back to the v0.5.0 body, which names the helpers in chat; their own
-- reverts, which run after this one, bring them back there.

begin;

create or replace function chat.fail_turn(conversation_id uuid, seq bigint, attempt uuid)
returns boolean as $$
declare
  v_turn chat.turns := chat.lock_turn(fail_turn.conversation_id, fail_turn.seq);
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
