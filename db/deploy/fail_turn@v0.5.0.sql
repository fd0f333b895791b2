-- Deploy chat:fail_turn to pg
-- requires: lock_turn
--
-- An attempt whose responder failed (or that was cancelled: a shutdown)
-- releases its claim at once, so that a retry runs the turn again without
-- waiting for the lease to run out. Only the attempt that holds the claim can
-- release it: a stale one, whose turn a retry took over, changes nothing.
-- The user's message stays: nothing is lost.

begin;

create function chat.fail_turn(conversation_id uuid, seq bigint, attempt uuid)
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

comment on function chat.fail_turn(uuid, bigint, uuid) is
  'Releases the claim of attempt on the current user''s turn of the user message seq, so that a retry runs it again; true if it held it (false when the turn is done, released, or taken over by a later attempt). P0002 when the turn is missing or someone else''s.';

revoke all on function chat.fail_turn(uuid, bigint, uuid) from public;
grant execute on function chat.fail_turn(uuid, bigint, uuid) to chat_app;

commit;
