-- Revert chat:create_conversation from pg (reworked)
--
-- Back to the v0.5.0 body, which names the helpers in chat (their own
-- reverts, which run after this one, bring them back there).

begin;

create or replace function chat.create_conversation(title text default null, metadata jsonb default '{}')
returns chat.conversations as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_problem text;
  v_conversation chat.conversations;
begin
  v_problem := chat.title_problem(create_conversation.title);
  if v_problem is not null then
    raise exception 'title %', v_problem
      using errcode = '22001', column = 'title';
  end if;
  v_problem := chat.conversation_metadata_problem(create_conversation.metadata);
  if v_problem is not null then
    raise exception 'metadata %', v_problem
      using errcode = '22023', column = 'metadata';
  end if;
  if chat.metadata_too_deep(create_conversation.metadata) then
    raise exception 'metadata is nested more than 100 levels deep'
      using errcode = '22023', column = 'metadata';
  end if;

  if not exists (select from chat.users u where u.id = v_user_id) then
    raise exception 'user % is not provisioned', v_user_id
      using errcode = '23503', table = 'users',
            hint = 'Insert the user''s row into chat.users first.';
  end if;

  insert into chat.conversations (user_id, title, metadata)
  values (v_user_id, create_conversation.title, coalesce(create_conversation.metadata, '{}'))
  returning * into v_conversation;

  return v_conversation;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

commit;
