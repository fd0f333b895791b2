-- Deploy chat:rename_conversation to pg (reworked)
-- requires: rename_conversation@v0.3.0
-- requires: conversation_not_found
--
-- As before (see rename_conversation@v0.3.0), with the same errors, but the
-- not-found error raised by chat.conversation_not_found, written once.

begin;

create or replace function chat.rename_conversation(conversation_id uuid, title text)
returns chat.conversations as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_problem text;
  v_conversation chat.conversations;
begin
  v_problem := chat.title_problem(rename_conversation.title);
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
    perform chat.conversation_not_found(rename_conversation.conversation_id);
  end if;

  return v_conversation;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
