-- Deploy chat:fetch_messages to pg (reworked)
-- requires: fetch_messages@v0.10.0
-- requires: active_path
--
-- As before when the head's stretch holds the page's start (always, in a
-- conversation nobody branches): one range. Otherwise the stretches back to
-- the one that holds it are found, then read oldest first, a statement each,
-- each an index range scan limited to what the page still needs, until the
-- page is full: one statement joining them read every message from the
-- page's start to the head, and sorted them, for a page of a hundred.

begin;

create or replace function chat.fetch_messages(conversation_id uuid, after_seq bigint default 0, max_count integer default 100)
returns setof chat.messages as $$
declare
  v_problem text;
  v_head bigint;
  v_from bigint;
  v_froms bigint[];
  v_tos bigint[];
  v_left bigint;
  v_read bigint;
begin
  perform chat_private.require_user_id();


  v_problem := chat_private.max_count_problem(fetch_messages.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;
  if fetch_messages.after_seq is null or fetch_messages.after_seq < 0 then
    raise exception 'after_seq must be 0 or more, not %', coalesce(fetch_messages.after_seq::text, 'NULL')
      using errcode = '22023', column = 'after_seq';
  end if;

  select c.head_seq, h.stretch_from into v_head, v_from
    from chat.conversations c
    left join lateral (
      select h.stretch_from
        from chat.messages h
       where h.user_id = chat_private.current_user_id() and h.conversation_id = c.id and h.seq = c.head_seq
       limit 1) h on true
   where c.user_id = chat_private.current_user_id() and c.id = fetch_messages.conversation_id;
  -- An empty conversation is not a missing one.
  if not found then
    perform chat_private.raise_conversation_not_found(fetch_messages.conversation_id);
  end if;
  -- (the path ascends to its head: nothing after it)
  if v_head is null or fetch_messages.after_seq >= v_head then
    return;
  end if;

  -- the head's stretch holds the page's start, or the path starts with it
  if v_from <= fetch_messages.after_seq + 1 or v_from = 1 then
    return query
      select m.*
        from chat.messages m
       where m.user_id = chat_private.current_user_id()
         and m.conversation_id = fetch_messages.conversation_id
         and m.seq > fetch_messages.after_seq
         and m.seq <= v_head
       order by m.seq
       limit fetch_messages.max_count;
    return;
  end if;

  -- the stretches back along the path to the one that holds it, then each
  -- read from the page's start, oldest first, while the page has room
  select pg_catalog.array_agg(r.from_seq order by r.to_seq desc), pg_catalog.array_agg(r.to_seq order by r.to_seq desc)
    into v_froms, v_tos
    from chat_private.path_ranges(fetch_messages.conversation_id, v_head, fetch_messages.after_seq + 1) r;
  v_left := fetch_messages.max_count;
  for i in reverse coalesce(pg_catalog.cardinality(v_tos), 0) .. 1 loop
    return query
      select m.*
        from chat.messages m
       where m.user_id = chat_private.current_user_id()
         and m.conversation_id = fetch_messages.conversation_id
         and m.seq between greatest(v_froms[i], fetch_messages.after_seq + 1) and v_tos[i]
       order by m.seq
       limit v_left;
    get diagnostics v_read = row_count;
    v_left := v_left - v_read;
    exit when v_left <= 0;
  end loop;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.fetch_messages(uuid, bigint, integer) is
  'A page of the active path of the current user''s conversation: its messages with seq > after_seq, ascending along it, at most max_count (1..1000). Every branch: chat.fetch_log. P0002 when the conversation is missing or someone else''s.';

commit;
