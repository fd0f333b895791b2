-- Revert chat:clear_conversation from pg (reworked)
--
-- Back to the v0.5.0 body, which names the helpers in chat; their own
-- reverts, which run after this one, bring them back there.

begin;

create or replace function chat.clear_conversation(conversation_id uuid)
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
    perform chat.conversation_not_found(clear_conversation.conversation_id);
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

commit;
