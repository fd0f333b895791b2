-- Deploy chat:settle_turn to pg (reworked)
-- requires: settle_turn@v0.5.0
-- requires: lock_turn
--
-- As before, but claiming the turn through chat_private.lock_turn, where the
-- lock now lives: a plpgsql body names what it calls, so it follows no move.
-- Its grants and comment stay as they are (create or replace keeps them).

begin;

create or replace function chat.settle_turn(conversation_id uuid, seq bigint, reply_seq bigint)
returns chat.appended_message as $$
declare
  v_turn chat.turns := chat_private.lock_turn(settle_turn.conversation_id, settle_turn.seq);
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

  select m.*, false into v_reply
    from chat.messages m
   where m.user_id = v_turn.user_id
     and m.conversation_id = v_turn.conversation_id
     and m.seq = settle_turn.reply_seq
     and m.seq > v_turn.seq
     and m.role = 'assistant';
  if not found then
    raise exception 'reply_seq % is no assistant message after the turn''s message %',
                    coalesce(settle_turn.reply_seq::text, 'NULL'), v_turn.seq
      using errcode = '22023', column = 'reply_seq';
  end if;

  update chat.turns t
     set reply_seq = v_reply.seq,
         running_until = null,
         finished_at = pg_catalog.clock_timestamp()
   where t.user_id = v_turn.user_id
     and t.conversation_id = v_turn.conversation_id
     and t.seq = v_turn.seq;
  return v_reply;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
