-- Deploy chat:fetch_context to pg (reworked)
-- requires: fetch_context@v0.9.0
-- requires: active_path
--
-- As before, along the active path. Walking back, the view goes on from a
-- stretch's first message to the message it follows, and from a summary's
-- first row to the message that the range it covers follows (the range ends
-- at the message the summary follows: its first row is the one with
-- parent_seq = summary_through); chat_private.view_before says where, for the
-- walk, its pages (no budget) and before_seq. The probe is as it was, a
-- summary's first row now told by its parent, and it plans without sorts:
-- on statistics where most conversations are short, the cut's cached plan
-- read the conversation's messages by seq and sorted them (1.6 ms on a
-- conversation of 10,000), where the budget's index gives them in order.

begin;

-- The message the model's view goes on with before message seq: for a
-- summary's first row (the one that follows the message its range ends at),
-- the message that the range's first message follows; for a stretch's first
-- message, the message it follows; otherwise seq - 1. 0 when the path starts
-- there.
create function chat_private.view_before(conversation_id uuid, seq bigint) returns bigint as $$
declare
  v_user_id uuid := chat_private.current_user_id();
  v_row chat.messages;
  v_parent bigint;
begin
  select m.* into v_row
    from chat.messages m
   where m.user_id = v_user_id and m.conversation_id = view_before.conversation_id and m.seq = view_before.seq;
  if not found then
    return 0;
  end if;
  if v_row.summary_from is not null and v_row.parent_seq = v_row.summary_through then
    select m.parent_seq into v_parent
      from chat.messages m
     where m.user_id = v_user_id and m.conversation_id = view_before.conversation_id and m.seq = v_row.summary_from;
    return coalesce(v_parent, 0);
  end if;
  return coalesce(v_row.parent_seq, 0);
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.view_before(uuid, bigint) is
  'The message the model''s view of the current user''s conversation goes on with before message seq (walking back): for a summary''s first row, the message its range''s first message follows; otherwise the message seq follows. 0 when the path starts there.';

revoke all on function chat_private.view_before(uuid, bigint) from public;
grant execute on function chat_private.view_before(uuid, bigint) to chat_app;

create or replace function chat_private.fetch_context_walk(
  conversation_id uuid,
  max_tokens integer,
  max_count integer default 1000,
  before_seq bigint default null
) returns setof chat.context_message as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_problem text;
  v_hi bigint;              -- the newest message of the next chunk, downward
  v_row record;
  v_total bigint := 0;      -- tokens taken
  v_count integer := 0;     -- messages taken
  v_low bigint;             -- the oldest message taken so far
  v_jump bigint;            -- where a summary's or a stretch's first row leads the walk
  v_stopped boolean := false;  -- the walk stopped before the view's first message
  v_oldest_call bigint;     -- the oldest message taken that is not a tool's output
  v_over_from bigint;       -- the messages taken over the budget: from this one up
  -- the stretches of the view taken, newest first: (from, through) of seq
  v_froms bigint[] := '{}';
  v_throughs bigint[] := '{}';
  v_start bigint;           -- (no budget) the newest summary's first row below the stretch's top
  v_stretch_from bigint;    -- (no budget) the first message of the path's stretch there
  v_cut bigint := 0;        -- nothing older than this comes back
  v_chunk integer := 32;
  v_stretch integer;
begin
  v_problem := chat_private.max_count_problem(fetch_context_walk.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;
  v_problem := chat_private.tokens_problem(fetch_context_walk.max_tokens);
  if v_problem is not null then
    raise exception 'max_tokens %, not %', v_problem, fetch_context_walk.max_tokens
      using errcode = '22003', column = 'max_tokens';
  end if;
  if fetch_context_walk.before_seq < 1 then
    raise exception 'before_seq must be 1 or more, not %', fetch_context_walk.before_seq
      using errcode = '22003', column = 'before_seq';
  end if;

  select coalesce(c.head_seq, 0) into v_hi
    from chat.conversations c
   where c.user_id = chat_private.current_user_id() and c.id = fetch_context_walk.conversation_id;
  if not found then
    perform chat_private.raise_conversation_not_found(fetch_context_walk.conversation_id);
  end if;
  -- Before a message of the view: the one the walk would read after it (when
  -- it is a summary's first row, the message that the range it covers
  -- follows; when it starts a stretch, the message it follows).
  if fetch_context_walk.before_seq <= v_hi then
    v_hi := chat_private.view_before(fetch_context_walk.conversation_id, fetch_context_walk.before_seq);
  end if;

  if fetch_context_walk.max_tokens is null then
    -- No budget: the latest max_count messages of the view, stretch by
    -- stretch, each from where the view goes on down to the newest summary's
    -- first row below it (the summaries' own small index tells which), with no
    -- row read but those returned.
    while v_hi >= 1 and v_count < fetch_context_walk.max_count loop
      select m.stretch_from into v_stretch_from
        from chat.messages m
       where m.user_id = chat_private.current_user_id()
         and m.conversation_id = fetch_context_walk.conversation_id
         and m.seq = v_hi;
      select s.seq into v_start
        from chat.messages s
       where s.user_id = chat_private.current_user_id()
         and s.conversation_id = fetch_context_walk.conversation_id
         and s.summary_from is not null
         and s.seq between v_stretch_from and v_hi
         and s.parent_seq = s.summary_through
       order by s.seq desc
       limit 1;
      v_low := greatest(coalesce(v_start, v_stretch_from), v_hi - (fetch_context_walk.max_count - v_count) + 1);
      v_froms := v_froms || v_low;
      v_throughs := v_throughs || v_hi;
      v_count := v_count + (v_hi - v_low + 1)::integer;
      exit when v_low > coalesce(v_start, v_stretch_from);
      v_hi := chat_private.view_before(fetch_context_walk.conversation_id, v_low);
    end loop;
  else
    -- The walk: index range scans, newest first, of 32 rows and then 64, each
    -- from where the last one ended or from where a summary leads. (A chunk
    -- keeps the read bounded whatever the plan: a scan without a limit is
    -- planned to read every row, and may be a sort of them all.)
    <<walk>>
    while v_hi >= 1 loop
      v_low := null;
      v_jump := null;
      for v_row in
        select m.seq, m.tokens, m.role = 'tool' as output,
               m.parent_seq = m.summary_through as summary_start, m.seq = m.stretch_from as stretch_start
          from chat.messages m
         where m.user_id = chat_private.current_user_id()
           and m.conversation_id = fetch_context_walk.conversation_id
           and m.seq <= v_hi
         order by m.seq desc
         limit v_chunk
      loop
        -- Stop at the count, or at the budget (a budget of NULL has none). But
        -- the newest message is taken whatever its size, and with a budget the
        -- walk never stops with only tool outputs taken: it goes on to their
        -- call. What it takes so is over the budget.
        if v_count >= fetch_context_walk.max_count
           or v_total + v_row.tokens > fetch_context_walk.max_tokens then
          if v_count > 0 and (v_oldest_call is not null or fetch_context_walk.max_tokens is null) then
            v_stopped := true;
            exit;
          end if;
          v_over_from := v_row.seq;
        end if;
        v_total := v_total + v_row.tokens;
        v_count := v_count + 1;
        v_low := v_row.seq;
        if not v_row.output then
          v_oldest_call := v_row.seq;
        end if;
        -- A summary's first row: the view goes on from the message the range it
        -- covers follows. A stretch's first message: from the message it
        -- follows. (0: the path starts here.)
        if v_row.summary_start or v_row.stretch_start then
          v_jump := chat_private.view_before(fetch_context_walk.conversation_id, v_row.seq);
          exit;
        end if;
      end loop;
      exit walk when v_low is null;
      -- a chunk that goes on from the last one extends its stretch
      if v_hi = v_froms[pg_catalog.cardinality(v_froms)] - 1 then
        v_froms[pg_catalog.cardinality(v_froms)] := v_low;
      else
        v_froms := v_froms || v_low;
        v_throughs := v_throughs || v_hi;
      end if;
      exit walk when v_stopped;
      v_hi := coalesce(v_jump, v_low - 1);
      v_chunk := 64;
    end loop;
  end if;

  -- A cut (with a budget) never leaves a tool's output first: the oldest
  -- messages taken go while they are outputs, down to the oldest that is not
  -- (there is one: the walk went on to it).
  if v_stopped and fetch_context_walk.max_tokens is not null then
    v_cut := v_oldest_call;
  end if;

  -- The messages, oldest stretch first, each read by its range.
  for v_stretch in reverse pg_catalog.cardinality(v_froms) .. 1 loop
    return query
      select m.id, m.conversation_id, m.user_id, m.seq, m.role, m.content, m.metadata, m.client_msg_id,
             m.created_at, m.tokens_given, m.tokens, m.summary_from, m.summary_through, m.tokens_before,
             m.parent_seq, m.stretch_from, coalesce(m.seq >= v_over_from, false)
        from chat.messages m
       where m.user_id = chat_private.current_user_id()
         and m.conversation_id = fetch_context_walk.conversation_id
         and m.seq between greatest(v_froms[v_stretch], v_cut) and v_throughs[v_stretch]
       order by m.seq;
  end loop;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

create or replace function chat.fetch_context(
  conversation_id uuid,
  max_tokens integer,
  max_count integer default 1000,
  before_seq bigint default null
) returns setof chat.context_message as $$
declare
  v_user_id uuid := chat_private.current_user_id();
  v_head bigint;            -- the head: the newest message of the path
  v_total bigint;           -- the running total through it
  v_stretch bigint;         -- the first message of its stretch
  v_low bigint;             -- the oldest message the count and the budget allow
  v_cut bigint;
begin
  -- Small statements, each an index probe with one obvious plan: the plan of
  -- one statement doing all of it cost more to start than its probes took,
  -- and its cached plan changed with the statistics.
  if fetch_context.before_seq is null
     and chat_private.max_count_problem(fetch_context.max_count) is null
     and chat_private.tokens_problem(fetch_context.max_tokens) is null then
    select h.seq, h.tokens_before + h.tokens, h.stretch_from into v_head, v_total, v_stretch
      from chat.conversations c
     cross join lateral (
       select h.seq, h.tokens_before, h.tokens, h.stretch_from
         from chat.messages h
        where h.user_id = c.user_id and h.conversation_id = c.id and h.seq = c.head_seq
        limit 1) h
     where c.user_id = v_user_id and c.id = fetch_context.conversation_id;

    -- within the count and the head's stretch; with a budget, from the oldest
    -- message that fits with all after it (none: the newest alone is over it)
    v_low := greatest(v_head - fetch_context.max_count + 1, v_stretch);
    if fetch_context.max_tokens is not null and v_head is not null then
      select k.seq into v_cut
        from chat.messages k
       where k.user_id = v_user_id and k.conversation_id = fetch_context.conversation_id
         and k.stretch_from = v_stretch
         and k.tokens_before >= v_total - fetch_context.max_tokens and k.seq <= v_head
       order by k.tokens_before, k.seq
       limit 1;
      v_low := case when v_cut is not null then greatest(v_low, v_cut) end;
    end if;

    -- The range from there to the head, unless a summary's first row is in it
    -- (the view goes on before what it covers) or the stretch's first message
    -- is reached with more allowed (the path goes on before it); with a budget
    -- and a cut, from the oldest message that is not a tool's output (none:
    -- the walk goes on to their call, over the budget). Nothing read: the walk.
    if v_low is not null and (v_low > v_stretch or v_stretch = 1) then
      return query
        select m.id, m.conversation_id, m.user_id, m.seq, m.role, m.content, m.metadata, m.client_msg_id,
               m.created_at, m.tokens_given, m.tokens, m.summary_from, m.summary_through, m.tokens_before,
               m.parent_seq, m.stretch_from, false
          from chat.messages m
         where m.user_id = v_user_id
           and m.conversation_id = fetch_context.conversation_id
           and m.seq <= v_head
           and m.seq >= (select f.seq
                           from chat.messages f
                          where f.user_id = v_user_id and f.conversation_id = fetch_context.conversation_id
                            and f.seq between v_low and v_head
                            and (f.role <> 'tool' or v_low = 1 or fetch_context.max_tokens is null)
                          order by f.seq
                          limit 1)
           and not exists (select
                             from chat.messages s
                            where s.user_id = v_user_id and s.conversation_id = fetch_context.conversation_id
                              and s.summary_from is not null and s.seq between v_low and v_head
                              and s.parent_seq = s.summary_through)
         order by m.seq;
      if found then
        return;
      end if;
    end if;
  end if;

  return query
    select * from chat_private.fetch_context_walk(fetch_context.conversation_id, fetch_context.max_tokens,
                                                  fetch_context.max_count, fetch_context.before_seq);
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp set enable_sort = off;

commit;
