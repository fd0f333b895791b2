-- Deploy chat:begin_turn to pg (reworked)
-- requires: begin_turn@v0.11.0
-- requires: turns_reply_key
-- requires: edit_message
--
-- As before, but the walk from a regenerated answer back to the user message
-- it answers reads each message by its seq: the first from a subquery, the
-- next ones in a subquery of their own for each step (offset 0: not
-- flattened into a join), each a probe of the unique key. Joined on
-- parent_seq and planned generically, where a conversation holds a few
-- messages on average, the walk read the whole conversation to find one
-- message (10,224 rows in make bench's database).

begin;

create or replace function chat.begin_turn(
  conversation_id uuid,
  content text,
  client_msg_id text default null,
  max_count integer default 50,
  lease interval default '150 seconds',
  tokens integer default null,
  max_tokens integer default null,
  edit_of bigint default null,
  regenerate_of bigint default null
) returns setof chat.turn_part as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_conversation_id uuid := begin_turn.conversation_id;
  v_opening_key text;
  v_message chat.appended_message;
  v_turn chat.turns;
  v_reply_seq bigint;
  v_answered bigint;
  v_found chat.messages;
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
  if begin_turn.edit_of is not null and begin_turn.regenerate_of is not null then
    raise exception 'regenerate_of cannot be given with edit_of: a turn answers one message'
      using errcode = '22023', column = 'regenerate_of';
  end if;
  if v_conversation_id is null and coalesce(begin_turn.edit_of, begin_turn.regenerate_of) is not null then
    raise exception 'conversation_id is required with %', case when begin_turn.edit_of is null then 'regenerate_of'
                                                              else 'edit_of' end
      using errcode = '22023', column = 'conversation_id';
  end if;

  -- An edit or another answer is of a message of this conversation: queue
  -- behind its writers (lock its row) and find the message.
  if coalesce(begin_turn.edit_of, begin_turn.regenerate_of) is not null then
    perform
      from chat.conversations c
     where c.user_id = v_user_id
       and c.id = v_conversation_id
       for update;
    if not found then
      perform chat_private.raise_conversation_not_found(v_conversation_id);
    end if;
  end if;

  if begin_turn.regenerate_of is not null then
    if begin_turn.content is not null or begin_turn.tokens is not null then
      raise exception '% must be NULL with regenerate_of: the message answered again is stored already',
                      case when begin_turn.content is null then 'tokens' else 'content' end
        using errcode = '22023', column = case when begin_turn.content is null then 'tokens' else 'content' end;
    end if;
    -- the user message it answers: the nearest user message before it on
    -- its path (an agent's answer is its tool calls, their outputs and its
    -- messages, all after the user's)
    with recursive up (seq, parent_seq, role) as (
      select m.seq, m.parent_seq, m.role
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = v_conversation_id
         and m.seq = (select r.parent_seq
                        from chat.messages r
                       where r.user_id = v_user_id
                         and r.conversation_id = v_conversation_id
                         and r.seq = begin_turn.regenerate_of
                         and r.role = 'assistant')
      union all
      select m.seq, m.parent_seq, m.role
        from up
       cross join lateral (
         select m.seq, m.parent_seq, m.role
           from chat.messages m
          where m.user_id = v_user_id and m.conversation_id = v_conversation_id and m.seq = up.parent_seq
         offset 0) m
       where up.role <> 'user'
    )
    select up.seq into v_answered from up where up.role = 'user';
    select m.*, true into v_message
      from chat.messages m
     where m.user_id = v_user_id
       and m.conversation_id = v_conversation_id
       and m.seq = v_answered;
    if not found then
      raise exception 'regenerate_of % is no assistant message of this conversation that answers a user message',
                      coalesce(begin_turn.regenerate_of::text, 'NULL')
        using errcode = '22023', column = 'regenerate_of';
    end if;

    -- A retry finds the reply stored with its key.
    if begin_turn.client_msg_id is not null then
      v_problem := chat_private.client_msg_id_problem(begin_turn.client_msg_id);
      if v_problem is not null then
        raise exception 'client_msg_id %', v_problem
          using errcode = '22023', column = 'client_msg_id';
      end if;
      select m.* into v_found
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = v_conversation_id
         and m.client_msg_id = begin_turn.client_msg_id;
      if found and (v_found.role <> 'assistant' or v_found.parent_seq is distinct from v_answered) then
        raise exception 'client_msg_id % was already used in this conversation for another message', pg_catalog.quote_literal(begin_turn.client_msg_id)
          using errcode = '23505', column = 'client_msg_id',
                constraint = 'messages_client_msg_id_key', table = 'messages';
      end if;
      v_reply_seq := v_found.seq;
    end if;

    select t.* into v_turn
      from chat.turns t
     where t.user_id = v_user_id
       and t.conversation_id = v_conversation_id
       and t.seq = v_answered
       for update;
    v_now := pg_catalog.clock_timestamp();
    if v_reply_seq is not null then
      v_state := 'done';
    elsif found and v_turn.running_until > v_now then
      v_state := 'running';
    elsif found and v_turn.reply_key = begin_turn.client_msg_id and v_turn.reply_seq is not null then
      -- answered by a responder that stored its reply itself (chat.settle_turn)
      v_state := 'done';
      v_reply_seq := v_turn.reply_seq;
    elsif found then
      update chat.turns t
         set attempt = pg_catalog.gen_random_uuid(),
             attempts = t.attempts + 1,
             running_until = v_now + begin_turn.lease,
             reply_seq = null,
             finished_at = null,
             reply_key = begin_turn.client_msg_id
       where t.user_id = v_user_id
         and t.conversation_id = v_conversation_id
         and t.seq = v_answered
      returning * into v_turn;
      v_state := 'run';
    else
      insert into chat.turns (user_id, conversation_id, seq, running_until, reply_key)
      values (v_user_id, v_conversation_id, v_answered, v_now + begin_turn.lease, begin_turn.client_msg_id)
      returning * into v_turn;
      v_state := 'run';
    end if;
    if v_state = 'run' then
      update chat.conversations c
         set head_seq = v_answered
       where c.user_id = v_user_id
         and c.id = v_conversation_id;
    end if;
  else
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
    if begin_turn.edit_of is not null then
      if begin_turn.tokens is not null then
        raise exception 'tokens must be NULL with edit_of: an edited message gets the database''s estimate'
          using errcode = '22023', column = 'tokens';
      end if;
      perform
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = v_conversation_id
         and m.seq = begin_turn.edit_of
         and m.role = 'user';
      if not found then
        raise exception 'edit_of % is no user message of this conversation', begin_turn.edit_of
          using errcode = '22023', column = 'edit_of';
      end if;
      v_message := chat.edit_message(v_conversation_id, begin_turn.edit_of, begin_turn.content, '{}',
                                     begin_turn.client_msg_id);
    else
      v_message := chat.append_message(v_conversation_id, 'user', begin_turn.content, '{}',
                                       begin_turn.client_msg_id, begin_turn.tokens);
    end if;

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
      v_reply_seq := v_turn.reply_seq;
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
         and m.seq = v_reply_seq;
  elsif v_state = 'run' then
    -- the model's view, as fetch_context reads it from the head (the turn's
    -- message): the last max_count messages, within max_tokens when it is given
    return query
      select 'history', v_state, null::uuid, null::interval,
             h.id, h.conversation_id, h.user_id, h.seq, h.role, h.content, h.metadata, h.client_msg_id,
             h.created_at, h.tokens_given, h.tokens, h.summary_from, h.summary_through, h.tokens_before,
             h.parent_seq, h.stretch_from, false
        from chat.fetch_context(v_conversation_id, begin_turn.max_tokens, begin_turn.max_count) h;
  end if;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
