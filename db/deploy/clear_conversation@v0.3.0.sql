-- Deploy chat:clear_conversation to pg
-- requires: messages_owner_rls
--
-- An agent starts its memory over (the SDK's clear_session): every message
-- of the conversation goes, the conversation stays with message_count 0, and
-- the next append is seq 1 again. It locks the conversation's row as an
-- append does, so a clear and an append to one conversation queue up.
--
-- It runs with its owner's rights, as pop_message does and for the same
-- reason, and like it filters by the current user itself in every statement.

begin;

create function chat.clear_conversation(conversation_id uuid)
returns bigint as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_removed bigint;
begin
  perform
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = clear_conversation.conversation_id
     for update;
  if not found then
    raise exception 'conversation % not found', clear_conversation.conversation_id
      using errcode = 'P0002';
  end if;

  delete from chat.messages m
   where m.user_id = v_user_id
     and m.conversation_id = clear_conversation.conversation_id;
  get diagnostics v_removed = row_count;

  if v_removed > 0 then
    update chat.conversations c
       set message_count = 0
     where c.user_id = v_user_id
       and c.id = clear_conversation.conversation_id;
  end if;
  return v_removed;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat.clear_conversation(uuid) is
  'Removes every message of the current user''s conversation and returns how many; the conversation stays, with message_count 0. P0002 when the conversation is missing or someone else''s. Runs with its owner''s rights and filters by the current user itself.';

revoke all on function chat.clear_conversation(uuid) from public;
grant execute on function chat.clear_conversation(uuid) to chat_app;

commit;
