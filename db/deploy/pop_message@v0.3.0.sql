-- Deploy chat:pop_message to pg
-- requires: messages_owner_rls
--
-- An agent takes back its last item (the SDK's pop_item): the conversation's
-- last message goes, and message_count with it, so seq stays gapless and the
-- next append takes the freed number. It locks the conversation's row as an
-- append does, so pops and appends to one conversation queue up.
--
-- It runs with its owner's rights, since chat_app holds no delete privilege
-- on messages (see messages_owner_rls). Those rights pass every policy, so it
-- filters by the current user itself in every statement: another user's
-- conversation is as missing as one that is not there.

begin;

create function chat.pop_message(conversation_id uuid)
returns setof chat.messages as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_count bigint;
begin
  select c.message_count into v_count
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = pop_message.conversation_id
     for update;
  if not found then
    raise exception 'conversation % not found', pop_message.conversation_id
      using errcode = 'P0002';
  end if;
  if v_count = 0 then
    return;
  end if;

  update chat.conversations c
     set message_count = v_count - 1
   where c.user_id = v_user_id
     and c.id = pop_message.conversation_id;

  return query
    delete from chat.messages m
     where m.user_id = v_user_id
       and m.conversation_id = pop_message.conversation_id
       and m.seq = v_count
    returning m.*;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat.pop_message(uuid) is
  'Removes the last message of the current user''s conversation and returns it (no row when it has none); message_count follows. P0002 when the conversation is missing or someone else''s. Runs with its owner''s rights and filters by the current user itself.';

revoke all on function chat.pop_message(uuid) from public;
grant execute on function chat.pop_message(uuid) to chat_app;

commit;
