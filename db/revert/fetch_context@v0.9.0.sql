-- Revert chat:fetch_context from pg
--
-- The functions as they were at @v0.8.0.

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

  select c.message_count into v_hi
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
             coalesce(m.seq >= v_over_from, false)
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
  v_from bigint;            -- the oldest message taken, when the probe can tell
  v_through bigint;         -- the newest message
begin
  select fast.first_seq, fast.head_seq into v_from, v_through
    from (
    with newest as (
      -- the newest message, the running total through it, and the newest
      -- summary's first row at or below it
      select c.id, c.message_count as head_seq, h.total,
             (select s.seq
                from chat.messages s
               where s.user_id = c.user_id and s.conversation_id = c.id
                 and s.summary_from is not null and s.seq <= c.message_count and s.seq = s.summary_through + 1
               order by s.seq desc
               limit 1) as summary_start
        from chat.conversations c
        -- lateral and limited (not flattened into a join), so that the newest
        -- message is found by its seq whatever the statistics say
        cross join lateral (
          select h.tokens_before + h.tokens as total
            from chat.messages h
           where h.user_id = c.user_id and h.conversation_id = c.id and h.seq = c.message_count
           limit 1) h
       where c.user_id = chat_private.current_user_id() and c.id = fetch_context.conversation_id
         and fetch_context.before_seq is null
         and chat_private.max_count_problem(fetch_context.max_count) is null
         and chat_private.tokens_problem(fetch_context.max_tokens) is null
    ), cut as (
      -- the oldest message taken: the count's limit, and the oldest that the
      -- budget holds with all after it (none when the newest alone is over it)
      select newest.id, newest.head_seq, newest.summary_start,
             case when fetch_context.max_tokens is null
                  then greatest(newest.head_seq - fetch_context.max_count + 1, 1)
                  else greatest(newest.head_seq - fetch_context.max_count + 1, 1, budget.seq) end as low,
             fetch_context.max_tokens is null or budget.seq is not null as held
        from newest
        left join lateral (
          select k.seq
            from chat.messages k
           where k.user_id = chat_private.current_user_id() and k.conversation_id = newest.id
             and k.tokens_before >= newest.total - fetch_context.max_tokens and k.seq <= newest.head_seq
           order by k.tokens_before, k.seq
           limit 1) budget on true
    ), fast as (
      -- above the newest summary's first row; with a budget and a cut, from the
      -- oldest message taken that is not a tool's output (none: the walk goes
      -- on to their call, over the budget)
      select cut.id, cut.head_seq,
             case when cut.low = 1 or fetch_context.max_tokens is null then cut.low
                  else (select f.seq
                          from chat.messages f
                         where f.user_id = chat_private.current_user_id() and f.conversation_id = cut.id
                           and f.seq between cut.low and cut.head_seq and f.role <> 'tool'
                         order by f.seq
                         limit 1) end as first_seq
        from cut
       where cut.held and cut.low > coalesce(cut.summary_start, 0)
    )
    select fast.first_seq, fast.head_seq from fast) fast;

  if v_from is null then
    return query
      select * from chat_private.fetch_context_walk(fetch_context.conversation_id, fetch_context.max_tokens,
                                                    fetch_context.max_count, fetch_context.before_seq);
    return;
  end if;

  return query
    select m.id, m.conversation_id, m.user_id, m.seq, m.role, m.content, m.metadata, m.client_msg_id,
           m.created_at, m.tokens_given, m.tokens, m.summary_from, m.summary_through, m.tokens_before, false
      from chat.messages m
     where m.user_id = chat_private.current_user_id()
       and m.conversation_id = fetch_context.conversation_id
       and m.seq between v_from and v_through
     order by m.seq;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
