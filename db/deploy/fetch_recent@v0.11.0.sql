-- Deploy chat:fetch_recent to pg (reworked)
-- requires: fetch_recent@v0.10.0
-- requires: message_parents
--
-- As before for a conversation nobody branches: the head's stretch read by
-- one range. Across stretches, one statement a stretch finds the one before
-- it, and one statement reads them all, each stretch an index range scan of
-- its own (a lateral subquery, bounded by the range's two ends): one
-- statement joining the ranges of chat_private.path_ranges (estimated at a
-- thousand rows) to the messages (each range estimated at a ninth of the
-- conversation) was planned as a scan of the whole conversation in seq
-- order, and every call of path_ranges costs a function's start. Its
-- statements are planned once (plan_cache_mode = force_generic_plan): the
-- read's custom plan, knowing the two or three ranges, always looked cheaper
-- than a generic one, so it was planned again on every call, which cost more
-- than the read. And without index-only scans (enable_indexonlyscan = off):
-- a message's stretch looked up by its seq was planned, generically, as an
-- index-only scan of the budget's index (messages_tokens_before_idx, which
-- holds both columns, seq last), reading the whole conversation's entries,
-- because an average conversation has a few messages; none of its reads
-- wants one.

begin;

create or replace function chat.fetch_recent(conversation_id uuid, max_count integer default 50)
returns setof chat.messages as $$
declare
  v_problem text;
  v_head bigint;
  v_from bigint;
  v_hi bigint;
  v_los bigint[];           -- the ranges of the stretches read, oldest first
  v_his bigint[];
  v_left bigint;            -- how many more the count allows
begin
  perform chat_private.require_user_id();

  v_problem := chat_private.max_count_problem(fetch_recent.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;

  select c.head_seq, h.stretch_from into v_head, v_from
    from chat.conversations c
    left join lateral (
      select h.stretch_from
        from chat.messages h
       where h.user_id = chat_private.current_user_id() and h.conversation_id = c.id and h.seq = c.head_seq
       limit 1) h on true
   where c.user_id = chat_private.current_user_id() and c.id = fetch_recent.conversation_id;
  if not found then
    perform chat_private.raise_conversation_not_found(fetch_recent.conversation_id);
  end if;
  if v_head is null then
    return;
  end if;

  -- the head's stretch holds them, or the path starts with it
  if v_head - fetch_recent.max_count + 1 >= v_from or v_from = 1 then
    return query
      select m.*
        from chat.messages m
       where m.user_id = chat_private.current_user_id()
         and m.conversation_id = fetch_recent.conversation_id
         and m.seq between greatest(v_from, v_head - fetch_recent.max_count + 1) and v_head
       order by m.seq
       limit fetch_recent.max_count;
    return;
  end if;

  -- the stretches back along the path, newest first, until they hold the
  -- count: from each stretch's first message, one statement finds the message
  -- it follows and that one's stretch
  v_los := array[greatest(v_from, v_head - fetch_recent.max_count + 1)];
  v_his := array[v_head];
  v_left := fetch_recent.max_count - (v_head - v_from + 1);
  while v_left > 0 loop
    select p.seq, p.stretch_from into v_hi, v_from
      from chat.messages f
      join chat.messages p
        on p.user_id = f.user_id and p.conversation_id = f.conversation_id and p.seq = f.parent_seq
     where f.user_id = chat_private.current_user_id()
       and f.conversation_id = fetch_recent.conversation_id
       and f.seq = v_from;
    exit when not found;
    v_los := greatest(v_from, v_hi - v_left + 1) || v_los;
    v_his := v_hi || v_his;
    v_left := v_left - (v_hi - v_los[1] + 1);
  end loop;

  -- each stretch read by its range, in one statement
  return query
    select m.*
      from rows from (pg_catalog.unnest(v_los), pg_catalog.unnest(v_his)) r (lo, hi)
     cross join lateral (
       select m.*
         from chat.messages m
        where m.user_id = chat_private.current_user_id()
          and m.conversation_id = fetch_recent.conversation_id
          and m.seq between r.lo and r.hi
        order by m.seq) m
     order by m.seq;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
  set enable_indexonlyscan = off set plan_cache_mode = force_generic_plan;

comment on function chat.fetch_recent(uuid, integer) is
  'The last max_count messages of the active path of the current user''s conversation (from its head back along the messages each follows), ascending. P0002 when the conversation is missing or someone else''s.';

commit;
