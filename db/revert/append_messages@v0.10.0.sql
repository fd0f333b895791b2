-- Revert chat:append_messages from pg
--
-- The function as it was at @v0.8.0.

begin;

create or replace function chat.append_messages(conversation_id uuid, messages jsonb)
returns setof chat.appended_message as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_element jsonb;
  v_position integer;  -- from 0, as the errors name the elements
  v_keyed boolean := false;  -- whether any element has a client_msg_id
  v_total integer;     -- how many elements
  v_key text;
  v_metadata jsonb;
  v_earlier jsonb;
  v_first integer;
  v_stored chat.messages;
  v_seq bigint;
  v_same boolean;
  v_count bigint;      -- the conversation's message_count, under its lock
  v_created timestamptz;
  -- per element, in order: its client_msg_id, the seq of the message it
  -- returns, and whether that is a replay
  v_keys text[] := '{}';
  v_seqs bigint[] := '{}';
  v_replays boolean[] := '{}';
  -- the positions of the elements to insert
  v_new integer[] := '{}';
  v_problem text;
begin
  v_problem := chat_private.message_batch_problem(append_messages.messages);
  if v_problem is not null then
    raise exception 'messages %', v_problem
      using errcode = '22023', column = 'messages';
  end if;

  -- Every element is a message as append_message takes one.
  for v_element, v_position in
    select e.value, e.position - 1
      from pg_catalog.jsonb_array_elements(append_messages.messages) with ordinality as e (value, position)
  loop
    -- (an assignment, not a perform: an expression runs without a query of its own)
    v_metadata := chat_private.check_message_element(v_element, 'messages[' || v_position || ']');
    v_keyed := v_keyed or v_element ->> 'client_msg_id' is not null;
    v_total := v_position + 1;
  end loop;

  -- Nothing to replay: every element is new. The update takes the
  -- conversation's lock (appends to it queue here) and reads its clock under
  -- it, so created_at follows seq; the insert returns what it stored.
  if not v_keyed then
    update chat.conversations c
       set message_count = c.message_count + v_total,
           updated_at = greatest(c.updated_at, pg_catalog.clock_timestamp())
     where c.user_id = v_user_id
       and c.id = append_messages.conversation_id
    returning c.message_count - v_total, c.updated_at
      into v_count, v_created;
    if not found then
      perform chat_private.raise_conversation_not_found(append_messages.conversation_id);
    end if;

    return query
      with stored as (
        insert into chat.messages (conversation_id, user_id, seq, role, content, metadata, client_msg_id,
                                   tokens_given, tokens, created_at)
        select append_messages.conversation_id, v_user_id, v_count + e.position,
               e.value ->> 'role', e.value ->> 'content', m.metadata,
               null, (e.value ->> 'tokens')::integer,
               coalesce((e.value ->> 'tokens')::integer, chat_private.estimated_tokens(e.value ->> 'content', m.metadata)),
               v_created
          from pg_catalog.jsonb_array_elements(append_messages.messages) with ordinality as e (value, position)
         cross join lateral (select coalesce(nullif(e.value -> 'metadata', 'null'), '{}')) as m (metadata)
        returning *
      )
      select stored.*, false from stored order by stored.seq;
    return;
  end if;

  -- Queue behind other appends to this conversation.
  select c.message_count into v_count
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = append_messages.conversation_id
     for update;
  if not found then
    perform chat_private.raise_conversation_not_found(append_messages.conversation_id);
  end if;

  -- Which elements are new, which replay a stored message or an earlier element.
  for v_element, v_position in
    select e.value, e.position - 1
      from pg_catalog.jsonb_array_elements(append_messages.messages) with ordinality as e (value, position)
  loop
    v_key := v_element ->> 'client_msg_id';
    v_metadata := coalesce(nullif(v_element -> 'metadata', 'null'), '{}');
    v_seq := null;
    if v_key is not null then
      v_first := pg_catalog.array_position(v_keys, v_key);
      if v_first is not null then
        -- an earlier element of this call has the key
        v_earlier := append_messages.messages -> (v_first - 1);
        v_seq := v_seqs[v_first];
        v_same := v_earlier ->> 'role' = v_element ->> 'role'
                  and v_earlier ->> 'content' = v_element ->> 'content'
                  and coalesce(nullif(v_earlier -> 'metadata', 'null'), '{}') = v_metadata;
      else
        select m.* into v_stored
          from chat.messages m
         where m.user_id = v_user_id
           and m.conversation_id = append_messages.conversation_id
           and m.client_msg_id = v_key;
        if found then
          v_seq := v_stored.seq;
          v_same := v_stored.role = v_element ->> 'role'
                    and v_stored.content = v_element ->> 'content'
                    and v_stored.metadata = v_metadata;
        end if;
      end if;
      if v_seq is not null and not v_same then
        raise exception 'messages[%].client_msg_id % was already used in this conversation for another message',
                        v_position, pg_catalog.quote_literal(v_key)
          using errcode = '23505', column = 'messages[' || v_position || '].client_msg_id',
                constraint = 'messages_client_msg_id_key', table = 'messages';
      end if;
    end if;
    v_keys := v_keys || v_key;
    if v_seq is not null then
      v_seqs := v_seqs || v_seq;
      v_replays := v_replays || true;
    else
      v_new := v_new || v_position;
      v_seqs := v_seqs || (v_count + pg_catalog.cardinality(v_new));
      v_replays := v_replays || false;
    end if;
  end loop;

  -- The new ones, in one statement, after one bump of the counter; the clock
  -- is read under the lock, so created_at follows seq.
  if pg_catalog.cardinality(v_new) > 0 then
    update chat.conversations c
       set message_count = c.message_count + pg_catalog.cardinality(v_new),
           updated_at = greatest(c.updated_at, pg_catalog.clock_timestamp())
     where c.user_id = v_user_id
       and c.id = append_messages.conversation_id
    returning c.updated_at into v_created;

    insert into chat.messages (conversation_id, user_id, seq, role, content, metadata, client_msg_id, tokens_given,
                               tokens, created_at)
    select append_messages.conversation_id, v_user_id, v_count + n.ordinal,
           e.value ->> 'role', e.value ->> 'content', m.metadata,
           e.value ->> 'client_msg_id', (e.value ->> 'tokens')::integer,
           coalesce((e.value ->> 'tokens')::integer, chat_private.estimated_tokens(e.value ->> 'content', m.metadata)),
           v_created
      from pg_catalog.unnest(v_new) with ordinality as n (position, ordinal)
     cross join lateral (select append_messages.messages -> n.position) as e (value)
     cross join lateral (select coalesce(nullif(e.value -> 'metadata', 'null'), '{}')) as m (metadata);
  end if;

  -- Each element's message, by its key: one index probe each (the limit keeps
  -- the lookup a lateral one, whatever the plan).
  return query
    select m.*, r.replayed
      from rows from (pg_catalog.unnest(v_seqs), pg_catalog.unnest(v_replays)) with ordinality as r (seq, replayed, position)
     cross join lateral (
       select m.*
         from chat.messages m
        where m.user_id = v_user_id
          and m.conversation_id = append_messages.conversation_id
          and m.seq = r.seq
        limit 1
     ) as m
     order by r.position;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
