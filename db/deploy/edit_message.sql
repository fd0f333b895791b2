-- Deploy chat:edit_message to pg
-- requires: active_path
-- requires: check_message
-- requires: conversation_not_found
--
-- A person edits a message they sent: the new version goes beside the old
-- one (it follows the same message, with the same role) and becomes the
-- head, so that the conversation goes on from it; the old version and what
-- followed it stay, a branch to switch back to. Idempotent on client_msg_id
-- as an append is: a retry returns the stored version and writes nothing.

begin;

create function chat.edit_message(
  conversation_id uuid,
  seq bigint,
  content text,
  metadata jsonb default '{}',
  client_msg_id text default null
) returns chat.appended_message as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_count bigint;
  v_updated timestamptz;
  v_edited chat.messages;
  v_metadata jsonb;
  v_stored chat.messages;
begin
  -- Queue behind the conversation's writers.
  select c.message_count, c.updated_at into v_count, v_updated
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = edit_message.conversation_id
     for update;
  if not found then
    perform chat_private.raise_conversation_not_found(edit_message.conversation_id);
  end if;

  select m.* into v_edited
    from chat.messages m
   where m.user_id = v_user_id
     and m.conversation_id = edit_message.conversation_id
     and m.seq = edit_message.seq;
  if not found then
    raise exception 'seq % is not a message of this conversation', coalesce(edit_message.seq::text, 'NULL')
      using errcode = '22023', column = 'seq';
  end if;
  v_metadata := chat_private.check_message(v_edited.role, edit_message.content, edit_message.metadata,
                                           edit_message.client_msg_id);

  if edit_message.client_msg_id is not null then
    select m.* into v_stored
      from chat.messages m
     where m.user_id = v_user_id
       and m.conversation_id = edit_message.conversation_id
       and m.client_msg_id = edit_message.client_msg_id;
    if found then
      if v_stored.role = v_edited.role
         and v_stored.content = edit_message.content
         and v_stored.metadata = v_metadata
         and v_stored.parent_seq is not distinct from v_edited.parent_seq
      then
        return row(v_stored.*, true)::chat.appended_message;
      end if;
      raise exception 'client_msg_id % was already used in this conversation for another message', pg_catalog.quote_literal(edit_message.client_msg_id)
        using errcode = '23505', column = 'client_msg_id',
              constraint = 'messages_client_msg_id_key', table = 'messages';
    end if;
  end if;

  -- Beside the edited message: its parent, its role, its running total; a
  -- stretch of its own (it does not follow the message just before it).
  insert into chat.messages (conversation_id, user_id, seq, parent_seq, stretch_from, tokens_before, role, content,
                             metadata, client_msg_id, tokens, created_at)
  values (edit_message.conversation_id, v_user_id, v_count + 1, v_edited.parent_seq, v_count + 1,
          v_edited.tokens_before, v_edited.role, edit_message.content, v_metadata, edit_message.client_msg_id,
          chat_private.estimated_tokens(edit_message.content, v_metadata),
          greatest(v_updated, pg_catalog.clock_timestamp()))
  returning * into v_stored;

  update chat.conversations c
     set message_count = v_stored.seq,
         head_seq = v_stored.seq,
         updated_at = v_stored.created_at
   where c.user_id = v_user_id
     and c.id = edit_message.conversation_id;

  return row(v_stored.*, false)::chat.appended_message;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.edit_message(uuid, bigint, text, jsonb, text) is
  'A new version of message seq of the current user''s conversation: it follows the same message with the same role, and becomes the head (the active path goes on from it); the old version stays. Idempotent on client_msg_id (replayed true, nothing written); 23505 when the key was used for another message. 22023 naming seq when it is no message of the conversation; P0002 when the conversation is missing or someone else''s.';

revoke all on function chat.edit_message(uuid, bigint, text, jsonb, text) from public;
grant execute on function chat.edit_message(uuid, bigint, text, jsonb, text) to chat_app;

commit;
