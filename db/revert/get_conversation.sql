-- Revert chat:get_conversation from pg (reworked)
--
-- Back to the v0.5.0 body, which names the helpers in chat (their own
-- reverts, which run after this one, bring them back there).

begin;

create or replace function chat.get_conversation(conversation_id uuid)
returns setof chat.conversations as $$
begin
  perform chat.require_user_id();

  return query
    select c.*
      from chat.conversations c
     where c.user_id = chat.current_user_id()
       and c.id = get_conversation.conversation_id;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
