-- Revert chat:finish_turn from pg (reworked)
--
-- Back to the v0.5.0 body, which names the helpers in chat; their own
-- reverts, which run after this one, bring them back there.

begin;

create or replace function chat.finish_turn(
  conversation_id uuid,
  seq bigint,
  content text,
  metadata jsonb default '{}'
) returns chat.appended_message as $$
declare
  v_turn chat.turns := chat.lock_turn(finish_turn.conversation_id, finish_turn.seq);
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
