-- Revert chat:fetch_context from pg
--
-- The functions as they were at @v0.9.0.

begin;

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
  v_jump bigint;            -- where a summary's first row leads the walk
  v_stopped boolean := false;  -- the walk stopped before the view's first message
  v_oldest_call bigint;     -- the oldest message taken that is not a tool's output
  v_over_from bigint;       -- the messages taken over the budget: from this one up
  -- the stretches of the view taken, newest first: (from, through) of seq
  v_froms bigint[] := '{}';
  v_throughs bigint[] := '{}';
  v_start bigint;           -- (no budget) the newest summary's first row below the stretch's top
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
  -- it is a summary's first row, the message before the range it covers).
  if fetch_context_walk.before_seq <= v_hi then
    select case when m.seq = m.summary_through + 1 then m.summary_from else m.seq end - 1 into v_hi
      from chat.messages m
     where m.user_id = chat_private.current_user_id()
       and m.conversation_id = fetch_context_walk.conversation_id
       and m.seq = fetch_context_walk.before_seq;
  end if;

  if fetch_context_walk.max_tokens is null then
    -- No budget: the latest max_count messages of the view, stretch by
    -- stretch, each from where the view goes on down to the newest summary's
    -- first row below it (the summaries' own small index tells which), with no
    -- row read but those returned.
    while v_hi >= 1 and v_count < fetch_context_walk.max_count loop
      select s.seq, s.summary_from into v_start, v_jump
        from chat.messages s
       where s.user_id = chat_private.current_user_id()
         and s.conversation_id = fetch_context_walk.conversation_id
         and s.summary_from is not null
         and s.seq <= v_hi
         and s.seq = s.summary_through + 1
       order by s.seq desc
       limit 1;
      v_low := greatest(coalesce(v_start, 1), v_hi - (fetch_context_walk.max_count - v_count) + 1);
      v_froms := v_froms || v_low;
      v_throughs := v_throughs || v_hi;
      v_count := v_count + (v_hi - v_low + 1)::integer;
      exit when v_start is null or v_low > v_start;
      v_hi := v_jump - 1;
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
               m.seq = m.summary_through + 1 as summary_start, m.summary_from
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
        -- A summary's first row: the view goes on before the range it covers.
        if v_row.summary_start then
          v_jump := v_row.summary_from - 1;
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
                              and s.seq = s.summary_through + 1)
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
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

drop function chat_private.view_before(uuid, bigint);

commit;
