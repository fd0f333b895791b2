-- Revert chat:create_conversation from pg
--
-- Back to the limits written out in the function (create_conversation@v0.2.0).

begin;

create or replace function chat.create_conversation(title text default null, metadata jsonb default '{}')
returns chat.conversations as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_metadata jsonb := chat.check_metadata(create_conversation.metadata, 16384);
  v_conversation chat.conversations;
begin
  if pg_catalog.char_length(create_conversation.title) > 200 then
    raise exception 'title is longer than 200 characters'
      using errcode = '22001', column = 'title';
  end if;

  if not exists (select from chat.users u where u.id = v_user_id) then
    raise exception 'user % is not provisioned', v_user_id
      using errcode = '23503', table = 'users',
            hint = 'Insert the user''s row into chat.users first.';
  end if;

  insert into chat.conversations (user_id, title, metadata)
  values (v_user_id, create_conversation.title, v_metadata)
  returning * into v_conversation;

  return v_conversation;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.create_conversation(text, jsonb) is
  'Creates a conversation of the current user (app.user_id) and returns it.';

commit;
