-- Deploy chat:delete_conversation to pg
-- requires: conversations_rls
-- requires: messages_rls
--
-- Deletes a conversation of the current user; its messages follow by the
-- foreign key's cascade. Deleting what is not there is not an error: the
-- answer is false, for a missing conversation and another user's alike.

begin;

create function chat.delete_conversation(conversation_id uuid)
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

comment on function chat.delete_conversation(uuid) is
  'Deletes the current user''s conversation and its messages; true if it was deleted.';

revoke all on function chat.delete_conversation(uuid) from public;
grant execute on function chat.delete_conversation(uuid) to chat_app;

commit;
