-- Revert chat:rename_conversation from pg
--
-- Back to the limit written out in the function (rename_conversation@v0.2.0).

begin;

create or replace function chat.rename_conversation(conversation_id uuid, title text)
returns chat.conversations as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_conversation chat.conversations;
begin
  if pg_catalog.char_length(rename_conversation.title) > 200 then
    raise exception 'title is longer than 200 characters'
      using errcode = '22001', column = 'title';
  end if;

  update chat.conversations c
     set title = rename_conversation.title,
         updated_at = greatest(c.updated_at, pg_catalog.clock_timestamp())
   where c.user_id = v_user_id
     and c.id = rename_conversation.conversation_id
  returning c.* into v_conversation;

  if not found then
    raise exception 'conversation % not found', rename_conversation.conversation_id
      using errcode = 'P0002';
  end if;

  return v_conversation;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.rename_conversation(uuid, text) is
  'Sets the title of the current user''s conversation (NULL clears it) and returns it; P0002 when missing or someone else''s.';

commit;
