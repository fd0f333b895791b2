-- Revert chat:begin_turn from pg (reworked)
--
-- Back to the @v0.9.0 signature and body, without edit_of and regenerate_of,
-- commented and granted as before.

begin;

drop function chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint);

create function chat.begin_turn(
  conversation_id uuid,
  content text,
  client_msg_id text default null,
  max_count integer default 50,
  lease interval default '150 seconds',
  tokens integer default null,
  max_tokens integer default null
) returns setof chat.turn_part as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_conversation_id uuid := begin_turn.conversation_id;
  v_opening_key text;
  v_message chat.appended_message;
  v_turn chat.turns;
  v_state text;
  v_now timestamptz;
  v_problem text;
begin
  v_problem := chat_private.max_count_problem(begin_turn.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;
  v_problem := chat_private.tokens_problem(begin_turn.max_tokens);
  if v_problem is not null then
    raise exception 'max_tokens %, not %', v_problem, begin_turn.max_tokens
      using errcode = '22003', column = 'max_tokens';
  end if;
  if begin_turn.lease is null or begin_turn.lease <= interval '0' or begin_turn.lease > interval '1 day' then
    raise exception 'lease must be more than 0 and at most 1 day, not %', coalesce(begin_turn.lease::text, 'NULL')
      using errcode = '22023', column = 'lease';
  end if;

  -- A retry of an opening turn finds its conversation; otherwise open one,
  -- titled by the message.
  if v_conversation_id is null then
    if begin_turn.client_msg_id is not null then
      perform from chat.users u where u.id = v_user_id for no key update;
      select t.conversation_id into v_conversation_id
        from chat.turns t
       where t.user_id = v_user_id
         and t.opening_key = begin_turn.client_msg_id;
    end if;
    if v_conversation_id is null then
      select c.id into v_conversation_id
        from chat.create_conversation(pg_catalog.left(begin_turn.content, 200)) c;
      v_opening_key := begin_turn.client_msg_id;
    end if;
  end if;

  -- Stored, or found again; either way the conversation's row is locked now.
  v_message := chat.append_message(v_conversation_id, 'user', begin_turn.content, '{}', begin_turn.client_msg_id,
                                   begin_turn.tokens);

  select t.* into v_turn
    from chat.turns t
   where t.user_id = v_user_id
     and t.conversation_id = v_conversation_id
     and t.seq = v_message.seq
     for update;
  v_now := pg_catalog.clock_timestamp();
  if not found then
    insert into chat.turns (user_id, conversation_id, seq, opening_key, running_until)
    values (v_user_id, v_conversation_id, v_message.seq, v_opening_key, v_now + begin_turn.lease)
    returning * into v_turn;
    v_state := 'run';
  elsif v_turn.reply_seq is not null then
    v_state := 'done';
  elsif v_turn.running_until > v_now then
    v_state := 'running';
  else
    update chat.turns t
       set attempt = pg_catalog.gen_random_uuid(),
           attempts = t.attempts + 1,
           running_until = v_now + begin_turn.lease
     where t.user_id = v_user_id
       and t.conversation_id = v_conversation_id
       and t.seq = v_message.seq
    returning * into v_turn;
    v_state := 'run';
  end if;

  return next row('user', v_state,
                  case when v_state = 'run' then v_turn.attempt end,
                  case when v_state = 'running' then v_turn.running_until - v_now end,
                  v_message.*)::chat.turn_part;

  if v_state = 'done' then
    return query
      select 'reply', v_state, null::uuid, null::interval, m.*, false
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = v_conversation_id
         and m.seq = v_turn.reply_seq;
  elsif v_state = 'run' then
    -- the model's view, as fetch_context reads it: the last max_count
    -- messages, within max_tokens when it is given
    return query
      select 'history', v_state, null::uuid, null::interval,
             h.id, h.conversation_id, h.user_id, h.seq, h.role, h.content, h.metadata, h.client_msg_id,
             h.created_at, h.tokens_given, h.tokens, h.summary_from, h.summary_through, h.tokens_before,
             h.parent_seq, h.stretch_from, false
        from chat.fetch_context(v_conversation_id, begin_turn.max_tokens, begin_turn.max_count) h;
  end if;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.begin_turn(uuid, text, text, integer, interval, integer, integer) is
  'Stores the current user''s message (in a new conversation, titled by it, when conversation_id is NULL; tokens its count, NULL for the database''s estimate) and claims its turn: state run (with an attempt, a lease, and as history the model''s view as fetch_context reads it: at most max_count messages, within max_tokens when given), done (a retry of a turn whose reply is stored: the reply) or running (a retry while another attempt answers: retry_after). A retry is the same client_msg_id; with another content it raises 23505. P0002 when the conversation is missing or someone else''s.';

revoke all on function chat.begin_turn(uuid, text, text, integer, interval, integer, integer) from public;
grant execute on function chat.begin_turn(uuid, text, text, integer, interval, integer, integer) to chat_app;

commit;
