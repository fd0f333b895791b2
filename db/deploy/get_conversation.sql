-- Deploy chat:get_conversation to pg (reworked)
-- requires: get_conversation@v0.5.0
-- requires: current_user_id
--
-- As before, but asking the helpers where they now live, in chat_private
-- (require_user_id, current_user_id): a plpgsql body names what it calls, so
-- it follows no move. The query is the same, filtering by the policies' own
-- expression, chat_private.current_user_id(), as they now write it.

begin;

create or replace function chat.get_conversation(conversation_id uuid)
returns setof chat.conversations as $$
begin
  perform chat_private.require_user_id();

  return query
    select c.*
      from chat.conversations c
     where c.user_id = chat_private.current_user_id()
       and c.id = get_conversation.conversation_id;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
