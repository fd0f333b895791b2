-- Deploy chat:pop_message to pg (reworked)
-- requires: pop_message@v0.8.0
-- requires: message_parents
--
-- As before, but the head goes, and the head moves to the message it
-- followed. Only the newest message can go (seq stays gapless; it has no
-- message after it): a head that is not the newest, after a switch to an
-- older branch, is refused with 55000.

begin;

create or replace function chat.pop_message(conversation_id uuid)
returns setof chat.messages as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_head bigint;
  v_count bigint;
begin
  select c.head_seq, c.message_count into v_head, v_count
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = pop_message.conversation_id
     for update;
  if not found then
    perform chat_private.raise_conversation_not_found(pop_message.conversation_id);
  end if;
  if v_head is null then
    return;
  end if;
  -- The head goes only when it is the newest message: seq stays gapless, and
  -- the newest message has none after it.
  if v_head <> v_count then
    raise exception 'the head, message %, is not the conversation''s newest message (%): only the newest can be popped', v_head, v_count
      using errcode = '55000', hint = 'switch_branch to the newest message first';
  end if;

  -- The head moves to the message it followed (for a first message, to the
  -- newest one left, which has none after it).
  return query
    with popped as (
      delete from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = pop_message.conversation_id
         and m.seq = v_head
      returning m.*
    ), moved as (
      update chat.conversations c
         set message_count = v_count - 1,
             head_seq = coalesce(popped.parent_seq, nullif(v_count - 1, 0))
        from popped
       where c.user_id = v_user_id
         and c.id = pop_message.conversation_id
    )
    select popped.* from popped;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

commit;
