-- Deploy chat:get_conversation to pg
-- requires: conversations_rls
--
-- One conversation of the current user, or no row: a missing conversation
-- and another user's look the same.

begin;

create function chat.get_conversation(conversation_id uuid)
returns setof chat.conversations as $$
declare
  v_user_id uuid := chat.require_user_id();
begin
  return query
    select c.*
      from chat.conversations c
     where c.user_id = v_user_id
       and c.id = get_conversation.conversation_id;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.get_conversation(uuid) is
  'The current user''s conversation with this id: one row, or none if it is missing or someone else''s.';

revoke all on function chat.get_conversation(uuid) from public;
grant execute on function chat.get_conversation(uuid) to chat_app;

commit;
