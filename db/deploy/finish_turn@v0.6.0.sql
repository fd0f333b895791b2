-- Deploy chat:finish_turn to pg (reworked)
-- requires: finish_turn@v0.5.0
-- requires: lock_turn
--
-- As before, but claiming the turn through chat_private.lock_turn, where the
-- lock now lives: a plpgsql body names what it calls, so it follows no move.
-- Its grants and comment stay as they are (create or replace keeps them).

begin;

create or replace function chat.finish_turn(
  conversation_id uuid,
  seq bigint,
  content text,
  metadata jsonb default '{}'
) returns chat.appended_message as $$
declare
  v_turn chat.turns := chat_private.lock_turn(finish_turn.conversation_id, finish_turn.seq);
  v_reply chat.appended_message;
begin
  if v_turn.reply_seq is not null then
    select m.*, true into v_reply
      from chat.messages m
     where m.user_id = v_turn.user_id
       and m.conversation_id = v_turn.conversation_id
       and m.seq = v_turn.reply_seq;
    return v_reply;
  end if;

  v_reply := chat.append_message(finish_turn.conversation_id, 'assistant', finish_turn.content,
                                 finish_turn.metadata);
  update chat.turns t
     set reply_seq = v_reply.seq,
         running_until = null,
         finished_at = v_reply.created_at
   where t.user_id = v_turn.user_id
     and t.conversation_id = v_turn.conversation_id
     and t.seq = v_turn.seq;
  return v_reply;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
