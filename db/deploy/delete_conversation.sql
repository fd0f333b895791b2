-- Deploy chat:delete_conversation to pg (reworked)
-- requires: delete_conversation@v0.5.0
-- requires: current_user_id
--
-- As before, but asking chat_private.require_user_id, where it now lives: a
-- plpgsql body names what it calls, so it follows no move. The comment and
-- the grants stay with the function.

begin;

create or replace function chat.delete_conversation(conversation_id uuid)
returns boolean as $$
declare
  v_user_id uuid := chat_private.require_user_id();
begin
  delete from chat.conversations c
   where c.user_id = v_user_id
     and c.id = delete_conversation.conversation_id;
  return found;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
