-- Deploy chat:finish_turn to pg (reworked)
-- requires: finish_turn@v0.9.0
-- requires: turns_reply_key
-- requires: active_path
--
-- A reply answers its turn's message, wherever the head has gone meanwhile.
-- When the head is that message, or a message after it on the active path
-- (another message was appended while the model wrote), the reply is
-- appended after the head and becomes it, as before: a conversation nobody
-- branches stays one path. When the person moved away from it (an edit, a
-- switch, another answer asked for), the reply follows the turn's message
-- beside the active path, and the head stays where the person put it. A
-- regenerated answer carries the turn's reply_key as its client_msg_id.

begin;

create or replace function chat.finish_turn(
  conversation_id uuid,
  seq bigint,
  content text,
  metadata jsonb default '{}',
  tokens integer default null
) returns chat.appended_message as $$
declare
  -- the conversation's row and the turn's, locked
  v_turn chat.turns := chat_private.lock_turn(finish_turn.conversation_id, finish_turn.seq);
  v_reply chat.appended_message;
  v_head bigint;
  v_count bigint;
  v_updated timestamptz;
  v_metadata jsonb;
  v_problem text;
  v_stored chat.messages;
begin
  if v_turn.reply_seq is not null then
    select m.*, true into v_reply
      from chat.messages m
     where m.user_id = v_turn.user_id
       and m.conversation_id = v_turn.conversation_id
       and m.seq = v_turn.reply_seq;
    return v_reply;
  end if;

  select c.head_seq, c.message_count, c.updated_at into v_head, v_count, v_updated
    from chat.conversations c
   where c.user_id = v_turn.user_id
     and c.id = v_turn.conversation_id;

  if v_head = v_turn.seq or exists (
    select from chat_private.path_ranges(finish_turn.conversation_id, v_head, v_turn.seq) r
     where v_turn.seq between r.from_seq and r.to_seq
  ) then
    v_reply := chat.append_message(finish_turn.conversation_id, 'assistant', finish_turn.content,
                                   finish_turn.metadata, v_turn.reply_key, finish_turn.tokens);
  else
    v_metadata := chat_private.check_message('assistant', finish_turn.content, finish_turn.metadata,
                                             v_turn.reply_key);
    v_problem := chat_private.tokens_problem(finish_turn.tokens);
    if v_problem is not null then
      raise exception 'tokens %, not %', v_problem, finish_turn.tokens
        using errcode = '22003', column = 'tokens';
    end if;
    insert into chat.messages (conversation_id, user_id, seq, parent_seq, role, content, metadata, client_msg_id,
                               tokens_given, tokens, created_at)
    values (finish_turn.conversation_id, v_turn.user_id, v_count + 1, v_turn.seq, 'assistant',
            finish_turn.content, v_metadata, v_turn.reply_key, finish_turn.tokens,
            coalesce(finish_turn.tokens, chat_private.estimated_tokens(finish_turn.content, v_metadata)),
            greatest(v_updated, pg_catalog.clock_timestamp()))
    returning * into v_stored;
    update chat.conversations c
       set message_count = v_stored.seq,
           updated_at = v_stored.created_at
     where c.user_id = v_turn.user_id
       and c.id = v_turn.conversation_id;
    v_reply := row(v_stored.*, false)::chat.appended_message;
  end if;

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

comment on function chat.finish_turn(uuid, bigint, text, jsonb, integer) is
  'Stores the reply to the current user''s turn (the turn of the user message seq) as an assistant message, with tokens its count of tokens (NULL: the database''s estimate), and ends the turn''s claim; returns it. The reply follows the turn''s message: appended after the head, which moves to it, when the head is that message or after it on the active path; beside the active path, the head left alone, when the person moved away from it. A regenerated answer is stored with the turn''s reply_key as its client_msg_id. When the turn has a reply already, stores nothing and returns that one (replayed = true). P0002 when the turn is missing or someone else''s; content and metadata are checked as append_message checks them.';

commit;
