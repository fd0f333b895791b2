-- Deploy chat:get_conversation to pg (reworked)
-- requires: get_conversation@v0.1.0
-- requires: conversations_rls
--
-- As before, but filtering by chat.current_user_id() itself rather than by a
-- variable holding it: the very expression of the policies, which the
-- planner inlines. So a conversation is read under row-level
-- security as it is without it: one index
-- condition on the user, no second filter. The filter stays, for a caller
-- that bypasses RLS; require_user_id still refuses to act for nobody.

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
