-- Deploy chat:create_conversation to pg (reworked)
-- requires: create_conversation@v0.5.0
-- requires: current_user_id
-- requires: limits
-- requires: metadata_depth
--
-- As before, but asking the helpers where they now live, in chat_private
-- (require_user_id, title_problem, conversation_metadata_problem): a plpgsql
-- body names what it calls, so it follows no move. The metadata's validator
-- now says the depth too ('is nested more than 100 levels deep'): one check,
-- the same error, 'metadata is nested more than 100 levels deep' (22023).

begin;

create or replace function chat.create_conversation(title text default null, metadata jsonb default '{}')
returns chat.conversations as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_problem text;
  v_conversation chat.conversations;
begin
  v_problem := chat_private.title_problem(create_conversation.title);
  if v_problem is not null then
    raise exception 'title %', v_problem
      using errcode = '22001', column = 'title';
  end if;
  v_problem := chat_private.conversation_metadata_problem(create_conversation.metadata);
  if v_problem is not null then
    raise exception 'metadata %', v_problem
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
