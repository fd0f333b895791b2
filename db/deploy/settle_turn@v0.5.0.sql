-- Deploy chat:settle_turn to pg
-- requires: lock_turn
--
-- A responder may store its reply itself: an agent's session stores every
-- item of the run, its final message among them. That message is then the
-- turn's reply: settle_turn names it, instead of finish_turn storing the text
-- a second time. As there, the first reply is the turn's.

begin;

create function chat.settle_turn(conversation_id uuid, seq bigint, reply_seq bigint)
returns chat.appended_message as $$
declare
  v_turn chat.turns := chat.lock_turn(settle_turn.conversation_id, settle_turn.seq);
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

comment on function chat.settle_turn(uuid, bigint, bigint) is
  'Makes the stored assistant message reply_seq (after the turn''s message) the reply to the current user''s turn of the user message seq, and ends the turn''s claim; returns it. When the turn has a reply already, returns that one (replayed = true). P0002 when the turn is missing or someone else''s; 22023 when reply_seq is no assistant message after it.';

revoke all on function chat.settle_turn(uuid, bigint, bigint) from public;
grant execute on function chat.settle_turn(uuid, bigint, bigint) to chat_app;

commit;
