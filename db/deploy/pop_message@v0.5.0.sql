-- Deploy chat:pop_message to pg (reworked)
-- requires: pop_message@v0.3.0
-- requires: conversation_not_found
--
-- As before (see pop_message@v0.3.0), with the same errors, but the not-found
-- error raised by chat.conversation_not_found, written once; it still runs
-- with its owner's rights and filters by the current user itself.

begin;

create or replace function chat.pop_message(conversation_id uuid)
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
    perform chat.conversation_not_found(pop_message.conversation_id);
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
