-- Deploy chat:export_user_data to pg
-- requires: users_rls
-- requires: tasks_rls
-- requires: conversations_rls
-- requires: messages_rls
--
-- Everything stored for the current user, as one JSON document, for
-- data-portability requests: the user, their tasks, their conversations each
-- with its messages in order. Conversations and messages have the shapes of
-- the HTTP API (user_id left out: it is the user's own, at the top).

begin;

create function chat.export_user_data() returns jsonb as $$
declare
  v_user_id uuid := chat.require_user_id();
begin
  return pg_catalog.jsonb_build_object(
    'exported_at', pg_catalog.now(),
    'user', (select pg_catalog.to_jsonb(u) from chat.users u where u.id = v_user_id),
    'tasks', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t) - 'user_id' order by t.created_at, t.id)
        from chat.tasks t
       where t.user_id = v_user_id), '[]'),
    'conversations', coalesce((
      select pg_catalog.jsonb_agg(
               (pg_catalog.to_jsonb(c) - 'user_id')
               || pg_catalog.jsonb_build_object('messages', coalesce((
                    select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(m) - 'user_id' order by m.seq)
                      from chat.messages m
                     where m.user_id = c.user_id and m.conversation_id = c.id), '[]'))
               order by c.created_at, c.id)
        from chat.conversations c
       where c.user_id = v_user_id), '[]')
  );
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.export_user_data() is
  'Everything stored for the current user as JSON: {exported_at, user, tasks, conversations: [{…, messages: […]}]}.';

revoke all on function chat.export_user_data() from public;
grant execute on function chat.export_user_data() to chat_app;

commit;
