-- Revert chat:pop_message from pg
--
-- The function as it was at @v0.8.0.

begin;

create or replace function chat.pop_message(conversation_id uuid)
returns setof chat.messages as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_count bigint;
begin
  select c.message_count into v_count
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = pop_message.conversation_id
     for update;
  if not found then
    perform chat_private.raise_conversation_not_found(pop_message.conversation_id);
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

commit;
