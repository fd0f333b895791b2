-- Deploy chat:fetch_recent to pg (reworked)
-- requires: fetch_recent@v0.11.0
-- requires: message_parents
--
-- As before, but the message a stretch follows is found by its seq, which a
-- subquery gives (the parent_seq of the stretch's first message), rather than
-- by a join on parent_seq. Planned generically, where a conversation holds a
-- few messages on average, the join's inner side was estimated at one row
-- either way, and the plan read it by the conversation alone, filtering the
-- join: every message of the conversation read to find one (10,198 rows, 46
-- times the branch-free read in make bench). A seq that a subquery gives is
-- a value known when the scan starts, so the probe is the unique key's.
--
-- And the stretches are read one statement each, oldest first, rather than
-- by one statement joining their ranges to the messages, which sorted what
-- it read (the branched read 4 to 6% faster).
--
-- Otherwise as before. For a conversation nobody branches the head's stretch
-- is read by one range. Across stretches, one statement a stretch finds the
-- one before it. Its statements are planned once (plan_cache_mode =
-- force_generic_plan): a read's custom plan, knowing the range, always looked
-- cheaper than a generic one, so it was planned again on every call, which
-- cost more than the read. And without index-only scans
-- (enable_indexonlyscan = off), a guard kept from before the budget's index
-- was led by the stretch: none of its reads wants one.

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
      from chat.messages p
     where p.user_id = chat_private.current_user_id()
       and p.conversation_id = fetch_recent.conversation_id
       and p.seq = (select f.parent_seq
                      from chat.messages f
                     where f.user_id = chat_private.current_user_id()
                       and f.conversation_id = fetch_recent.conversation_id
                       and f.seq = v_from);
    exit when not found;
    v_los := greatest(v_from, v_hi - v_left + 1) || v_los;
    v_his := v_hi || v_his;
    v_left := v_left - (v_hi - v_los[1] + 1);
  end loop;

  -- each stretch read by its range, oldest first: appended to what the
  -- function returns in turn, they need no sort
  for i in 1 .. pg_catalog.array_length(v_los, 1) loop
    return query
      select m.*
        from chat.messages m
       where m.user_id = chat_private.current_user_id()
         and m.conversation_id = fetch_recent.conversation_id
         and m.seq between v_los[i] and v_his[i]
       order by m.seq;
  end loop;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
  set enable_indexonlyscan = off set plan_cache_mode = force_generic_plan;

comment on function chat.fetch_recent(uuid, integer) is
  'The last max_count messages of the active path of the current user''s conversation (from its head back along the messages each follows), ascending. P0002 when the conversation is missing or someone else''s.';

commit;
