-- Deploy chat:begin_turn to pg
-- requires: turns_rls
-- requires: append_message
-- requires: create_conversation
--
-- The first half of a chat turn, in one call: store the user's message (in a
-- new conversation when none is given) and decide, under the conversation's
-- lock, whether this call answers it:
--
--   run      the turn is this call's: it gets an attempt and a lease, and the
--            context window (the conversation's last max_count messages) to
--            answer from;
--   done     a retry of a turn whose reply is stored: it gets the reply, and
--            nothing is written;
--   running  a retry while another attempt is answering, within its lease:
--            it gets how long the lease still runs, and nothing is written.
--
-- A retry is the same message again: the same client_msg_id in the same
-- conversation (append_message replays it; with another content it raises
-- 23505). A turn that failed (fail_turn), or whose lease ran out because its
-- process died, runs again as a new attempt. Racing retries queue on the
-- conversation's row, so one of them runs and the others find it running.
--
-- A turn that opens a conversation is retried without one: the client never
-- learnt it. Its client_msg_id, kept as the turn's opening_key, finds the
-- conversation its first call opened; racing retries of it queue on the
-- user's row, so that they open one conversation between them.

begin;

create type chat.turn_part as (
  part            text,
  state           text,
  attempt         uuid,
  retry_after     interval,
  id              uuid,
  conversation_id uuid,
  user_id         uuid,
  seq             bigint,
  role            text,
  content         text,
  metadata        jsonb,
  client_msg_id   text,
  created_at      timestamptz,
  replayed        boolean
);

comment on type chat.turn_part is
  'A row of chat.begin_turn: part (user: the turn''s message, with replayed; history: the context window, ascending; reply: the stored reply), the turn''s state (run, running, done) on every row, its attempt (run) and retry_after (running), and the message''s columns.';

create function chat.begin_turn(
  conversation_id uuid,
  content text,
  client_msg_id text default null,
  max_count integer default 50,
  lease interval default '150 seconds'
) returns setof chat.turn_part as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_conversation_id uuid := begin_turn.conversation_id;
  v_opening_key text;
  v_message chat.appended_message;
  v_turn chat.turns;
  v_state text;
  v_now timestamptz;
begin
  if begin_turn.max_count is null or begin_turn.max_count not between 1 and 1000 then
    raise exception 'max_count must be between 1 and 1000, not %', coalesce(begin_turn.max_count::text, 'NULL')
      using errcode = '22023', column = 'max_count';
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
  v_message := chat.append_message(v_conversation_id, 'user', begin_turn.content, '{}', begin_turn.client_msg_id);

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
    -- as fetch_recent reads it: messages_conversation_seq_key backwards,
    -- max_count rows, filtered by the policies' own expression (planned as
    -- without them)
    return query
      select 'history', v_state, null::uuid, null::interval, recent.*, false
        from (select m.*
                from chat.messages m
               where m.user_id = chat.current_user_id()
                 and m.conversation_id = v_conversation_id
               order by m.seq desc
               limit begin_turn.max_count) recent
       order by recent.seq;
  end if;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.begin_turn(uuid, text, text, integer, interval) is
  'Stores the current user''s message (in a new conversation, titled by it, when conversation_id is NULL) and claims its turn: state run (with an attempt, a lease, and the last max_count messages as history), done (a retry of a turn whose reply is stored: the reply) or running (a retry while another attempt answers: retry_after). A retry is the same client_msg_id; with another content it raises 23505. P0002 when the conversation is missing or someone else''s.';

revoke all on function chat.begin_turn(uuid, text, text, integer, interval) from public;
grant execute on function chat.begin_turn(uuid, text, text, integer, interval) to chat_app;

commit;
