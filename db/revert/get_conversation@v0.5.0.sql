-- Revert chat:get_conversation from pg (reworked)
--
-- Back to the function of v0.1.0, which filters by a variable holding the
-- current user.

begin;

create or replace function chat.get_conversation(conversation_id uuid)
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

commit;
