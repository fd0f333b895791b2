-- Revert chat:fetch_recent from pg (reworked)
--
-- Back to the @v0.10.0 body: across stretches, one statement joining the
-- ranges to the messages.
--
-- The last max_count messages of the active path, ascending. The head's
-- stretch is read by one range, as the whole conversation was: a conversation
-- nobody branches costs what it did (one statement finds the conversation and
-- its head's stretch, where it only checked the conversation). Only when that
-- stretch holds fewer messages than asked, and the path goes on before it,
-- are the stretches before it found (chat_private.path_ranges).

begin;

create or replace function chat.fetch_recent(conversation_id uuid, max_count integer default 50)
returns setof chat.messages as $$
declare
  v_problem text;
  v_head bigint;
  v_from bigint;
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
       order by m.seq;
    return;
  end if;

  -- the stretches back along the path, the oldest cut to the count
  return query
    with ranges as (
      select r.from_seq, r.to_seq,
             coalesce(sum(r.to_seq - r.from_seq + 1) over (order by r.to_seq desc
                                                            rows between unbounded preceding and 1 preceding), 0)
               as newer
        from chat_private.path_ranges(fetch_recent.conversation_id, v_head, 1, fetch_recent.max_count) r
    )
    select m.*
      from ranges r
      join chat.messages m
        on m.user_id = chat_private.current_user_id()
       and m.conversation_id = fetch_recent.conversation_id
       and m.seq between greatest(r.from_seq, r.to_seq - (fetch_recent.max_count - r.newer) + 1) and r.to_seq
     order by m.seq;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.fetch_recent(uuid, integer) is
  'The last max_count messages of the active path of the current user''s conversation (from its head back along the messages each follows), ascending. P0002 when the conversation is missing or someone else''s.';

commit;
