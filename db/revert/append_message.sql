-- Revert chat:append_message from pg (reworked)
--
-- Back to the @v0.10.0 body: the conversation locked by a read, then the
-- insert and the head's move.

begin;

create or replace function chat.append_message(
  conversation_id uuid,
  role text,
  content text,
  metadata jsonb default '{}',
  client_msg_id text default null,
  tokens integer default null
) returns chat.appended_message as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  -- input first, with errors that name the argument
  v_metadata jsonb := chat_private.check_message(append_message.role, append_message.content,
                                         append_message.metadata, append_message.client_msg_id);
  v_stored chat.messages;
  v_problem text := chat_private.tokens_problem(append_message.tokens);
begin
  if v_problem is not null then
    raise exception 'tokens %, not %', v_problem, append_message.tokens
      using errcode = '22003', column = 'tokens';
  end if;

  -- With a client_msg_id: queue behind other appends to this conversation
  -- (lock its row) before looking for an earlier append with that key.
  if append_message.client_msg_id is not null then
    perform
      from chat.conversations c
     where c.user_id = v_user_id
       and c.id = append_message.conversation_id
       for update;
    if not found then
      perform chat_private.raise_conversation_not_found(append_message.conversation_id);
    end if;

    select m.* into v_stored
      from chat.messages m
     where m.user_id = v_user_id
       and m.conversation_id = append_message.conversation_id
       and m.client_msg_id = append_message.client_msg_id;
    if found then
      if v_stored.role = append_message.role
         and v_stored.content = append_message.content
         and v_stored.metadata = v_metadata
      then
        return row(v_stored.*, true)::chat.appended_message;
      end if;
      raise exception 'client_msg_id % was already used in this conversation for another message', pg_catalog.quote_literal(append_message.client_msg_id)
        using errcode = '23505', column = 'client_msg_id',
              constraint = 'messages_client_msg_id_key', table = 'messages';
    end if;
  end if;

  -- One statement, whose data flow orders it: lock the conversation's row (or
  -- hold the lock taken above) and read its head and count, so that appends to
  -- one conversation queue here and each reads what the one before it wrote;
  -- insert after the head (the clock read once the lock is held, so created_at
  -- follows seq); then move the head and the count to the new message. (An
  -- UPDATE's RETURNING gives no old value, and a head read in the snapshot
  -- before the lock could be a racing append's stale one.)
  with locked as (
    select c.head_seq, c.message_count, c.updated_at
      from chat.conversations c
     where c.user_id = v_user_id
       and c.id = append_message.conversation_id
       for update
  ), stored as (
    insert into chat.messages (conversation_id, user_id, seq, parent_seq, role, content, metadata, client_msg_id,
                               tokens_given, tokens, created_at)
    select append_message.conversation_id, v_user_id, locked.message_count + 1, locked.head_seq,
           append_message.role, append_message.content, v_metadata, append_message.client_msg_id,
           append_message.tokens,
           coalesce(append_message.tokens, chat_private.estimated_tokens(append_message.content, v_metadata)),
           greatest(locked.updated_at, pg_catalog.clock_timestamp())
      from locked
    returning *
  ), moved as (
    update chat.conversations c
       set message_count = stored.seq,
           head_seq = stored.seq,
           updated_at = stored.created_at
      from stored
     where c.user_id = v_user_id
       and c.id = append_message.conversation_id
  )
  select stored.* into v_stored from stored;

  if not found then
    perform chat_private.raise_conversation_not_found(append_message.conversation_id);
  end if;

  return row(v_stored.*, false)::chat.appended_message;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
