-- Deploy chat:clear_conversation to pg (reworked)
-- requires: clear_conversation@v0.5.0
-- requires: current_user_id
-- requires: conversation_not_found
--
-- As before, still with its owner's rights, but asking the helpers where they
-- now live, in chat_private (require_user_id, raise_conversation_not_found): a
-- plpgsql body names what it calls, so it follows no move.

begin;

create or replace function chat.clear_conversation(conversation_id uuid)
returns bigint as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_removed bigint;
begin
  perform
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = clear_conversation.conversation_id
     for update;
  if not found then
    perform chat_private.raise_conversation_not_found(clear_conversation.conversation_id);
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
