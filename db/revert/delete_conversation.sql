-- Revert chat:delete_conversation from pg (reworked)
--
-- Back to the v0.5.0 body, which names the helpers in chat (their own
-- reverts, which run after this one, bring them back there).

begin;

create or replace function chat.delete_conversation(conversation_id uuid)
returns boolean as $$
declare
  v_user_id uuid := chat.require_user_id();
begin
  delete from chat.conversations c
   where c.user_id = v_user_id
     and c.id = delete_conversation.conversation_id;
  return found;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
