-- Deploy chat:append_message to pg (reworked)
-- requires: append_message@v0.10.0
-- requires: previous_head
--
-- One statement appends: the conversation's UPDATE takes its lock (appends
-- to one conversation queue there), bumps the count, moves the head to the
-- new message, reads the clock under the lock (so created_at follows seq),
-- and returns the head it replaced (previous_head_seq), which the insert
-- follows. Under READ COMMITTED the UPDATE works on the row's latest version,
-- so a racing append's head is the one it reads. The locking read before it
-- is gone: a row lock is a write of its own. Same arguments, rows, errors.

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

  -- One statement: the UPDATE locks the conversation's row (or holds the lock
  -- taken above), bumps its count, moves its head and returns the head it
  -- replaced; the insert follows it, with the clock read under the lock.
  with bumped as (
    update chat.conversations c
       set message_count = c.message_count + 1,
           head_seq = c.message_count + 1,
           previous_head_seq = c.head_seq,
           updated_at = greatest(c.updated_at, pg_catalog.clock_timestamp())
     where c.user_id = v_user_id
       and c.id = append_message.conversation_id
    returning c.message_count, c.previous_head_seq, c.updated_at
  )
  insert into chat.messages (conversation_id, user_id, seq, parent_seq, role, content, metadata, client_msg_id,
                             tokens_given, tokens, created_at)
  select append_message.conversation_id, v_user_id, bumped.message_count, bumped.previous_head_seq,
         append_message.role, append_message.content, v_metadata, append_message.client_msg_id,
         append_message.tokens,
         coalesce(append_message.tokens, chat_private.estimated_tokens(append_message.content, v_metadata)),
         bumped.updated_at
    from bumped
  returning * into v_stored;

  if not found then
    perform chat_private.raise_conversation_not_found(append_message.conversation_id);
  end if;

  return row(v_stored.*, false)::chat.appended_message;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
