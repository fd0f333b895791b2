-- Deploy chat:rename_conversation to pg (reworked)
-- requires: rename_conversation@v0.5.0
-- requires: current_user_id
-- requires: limits
-- requires: conversation_not_found
--
-- As before, but asking the helpers where they now live, in chat_private
-- (require_user_id, title_problem, raise_conversation_not_found): a plpgsql
-- body names what it calls, so it follows no move. The errors are the same.

begin;

create or replace function chat.rename_conversation(conversation_id uuid, title text)
returns chat.conversations as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_problem text;
  v_conversation chat.conversations;
begin
  v_problem := chat_private.title_problem(rename_conversation.title);
  if v_problem is not null then
    raise exception 'title %', v_problem
      using errcode = '22001', column = 'title';
  end if;

  update chat.conversations c
     set title = rename_conversation.title,
         updated_at = greatest(c.updated_at, pg_catalog.clock_timestamp())
   where c.user_id = v_user_id
     and c.id = rename_conversation.conversation_id
  returning c.* into v_conversation;

  if not found then
    perform chat_private.raise_conversation_not_found(rename_conversation.conversation_id);
  end if;

  return v_conversation;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
