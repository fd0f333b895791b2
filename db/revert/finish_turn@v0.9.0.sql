-- Revert chat:finish_turn from pg (reworked)
--
-- Back to the @v0.6.0 signature and body, without tokens, granted as before.

begin;

drop function chat.finish_turn(uuid, bigint, text, jsonb, integer);

create function chat.finish_turn(
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

comment on function chat.finish_turn(uuid, bigint, text, jsonb) is
  'Stores the reply to the current user''s turn (the turn of the user message seq) as an assistant message and ends the turn''s claim; returns it. When the turn has a reply already, stores nothing and returns that one (replayed = true). P0002 when the turn is missing or someone else''s; content and metadata are checked as append_message checks them.';

revoke all on function chat.finish_turn(uuid, bigint, text, jsonb) from public;
grant execute on function chat.finish_turn(uuid, bigint, text, jsonb) to chat_app;

commit;
