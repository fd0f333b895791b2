-- Deploy chat:compact_messages to pg (reworked)
-- requires: compact_messages@v0.9.0
-- requires: active_path
-- requires: fetch_context
--
-- As before, along the active path: from_seq must be a message the model
-- sees (on the path, not covered by a summary on the path), found by walking
-- the view back from the head stretch by stretch; a summary's first row is
-- the one that follows the message its range ends at.

begin;

create or replace function chat.compact_messages(
  conversation_id uuid,
  from_seq bigint,
  messages jsonb,
  through_id uuid default null
) returns setof chat.messages as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_problem text;
  v_element jsonb;
  v_position integer;
  v_total integer;
  v_head bigint;            -- the head (0 when empty)
  v_count bigint;           -- the conversation's message_count: the summary's rows are numbered after it
  v_head_id uuid;
  v_from bigint := compact_messages.from_seq;
  v_start chat.messages;
  v_cover bigint;
  v_hi bigint;              -- the view, walked back from the head
  v_bottom bigint;
  v_seen boolean := false;
  v_cover_from bigint;
  v_created timestamptz;
begin
  v_problem := chat_private.message_batch_problem(compact_messages.messages);
  if v_problem is not null then
    raise exception 'messages %', v_problem
      using errcode = '22023', column = 'messages';
  end if;
  for v_element, v_position in
    select e.value, e.position - 1
      from pg_catalog.jsonb_array_elements(compact_messages.messages) with ordinality as e (value, position)
  loop
    perform chat_private.check_message_element(v_element, 'messages[' || v_position || ']');
    if v_element ->> 'client_msg_id' is not null then
      raise exception 'messages[%].client_msg_id: a summary''s messages take none', v_position
        using errcode = '22023', column = 'messages[' || v_position || '].client_msg_id';
    end if;
    v_total := v_position + 1;
  end loop;

  -- Queue behind the appends to this conversation; the summary follows its
  -- head, the last message of the model's path, and stands in for the path's
  -- messages from from_seq to it.
  select coalesce(c.head_seq, 0), c.message_count into v_head, v_count
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = compact_messages.conversation_id
     for update;
  if not found then
    perform chat_private.raise_conversation_not_found(compact_messages.conversation_id);
  end if;

  -- Stale: the caller summarized up to a message that is no longer the last.
  if compact_messages.through_id is not null then
    select m.id into v_head_id
      from chat.messages m
     where m.user_id = v_user_id
       and m.conversation_id = compact_messages.conversation_id
       and m.seq = v_head;
    if v_head_id is distinct from compact_messages.through_id then
      return;
    end if;
  end if;

  if v_from is null or v_from < 1 or v_from > v_head then
    raise exception 'from_seq must be a message of the conversation (1 to %), not %', v_head, coalesce(v_from::text, 'NULL')
      using errcode = '22023', column = 'from_seq';
  end if;

  -- The model must still see from_seq: it is on the active path and no
  -- summary on the path covers it. (From the first message, the summary
  -- stands in for everything: nothing can show again.) Walked back from the
  -- head, view stretch by view stretch.
  v_hi := v_head;
  while v_hi >= 1 and v_from <= v_hi loop
    select m.stretch_from into v_bottom
      from chat.messages m
     where m.user_id = v_user_id and m.conversation_id = compact_messages.conversation_id and m.seq = v_hi;
    select s.seq, s.summary_from into v_cover, v_cover_from
      from chat.messages s
     where s.user_id = v_user_id
       and s.conversation_id = compact_messages.conversation_id
       and s.summary_from is not null
       and s.seq between v_bottom and v_hi
       and s.parent_seq = s.summary_through
     order by s.seq desc
     limit 1;
    if v_from >= coalesce(v_cover, v_bottom) then
      v_seen := true;
      exit;
    end if;
    if v_from >= v_cover_from and v_from > 1 then
      raise exception 'from_seq % is covered by the summary at seq %: the model no longer sees it', v_from, v_cover
        using errcode = '22023', column = 'from_seq';
    end if;
    v_bottom := coalesce(v_cover, v_bottom);
    v_hi := chat_private.view_before(compact_messages.conversation_id, v_bottom);
  end loop;
  if not v_seen and v_from > 1 then
    raise exception 'from_seq % is not a message the model sees: it is not on the active path', v_from
      using errcode = '22023', column = 'from_seq';
  end if;

  -- Starting at an earlier summary's first row covers what it covered.
  select m.* into v_start
    from chat.messages m
   where m.user_id = v_user_id
     and m.conversation_id = compact_messages.conversation_id
     and m.seq = v_from;
  if v_start.parent_seq = v_start.summary_through then
    v_from := v_start.summary_from;
  end if;

  update chat.conversations c
     set message_count = c.message_count + v_total,
         head_seq = c.message_count + v_total,
         updated_at = greatest(c.updated_at, pg_catalog.clock_timestamp())
   where c.user_id = v_user_id
     and c.id = compact_messages.conversation_id
  returning c.updated_at into v_created;

  return query
    insert into chat.messages (conversation_id, user_id, seq, parent_seq, role, content, metadata, tokens_given, tokens,
                               summary_from, summary_through, created_at)
    select compact_messages.conversation_id, v_user_id, v_count + e.position,
           case when e.position = 1 then v_head else v_count + e.position - 1 end,
           e.value ->> 'role', e.value ->> 'content', m.metadata, (e.value ->> 'tokens')::integer,
           coalesce((e.value ->> 'tokens')::integer, chat_private.estimated_tokens(e.value ->> 'content', m.metadata)),
           v_from, v_head, v_created
      from pg_catalog.jsonb_array_elements(compact_messages.messages) with ordinality as e (value, position)
     cross join lateral (select coalesce(nullif(e.value -> 'metadata', 'null'), '{}')) as m (metadata)
    returning *;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
