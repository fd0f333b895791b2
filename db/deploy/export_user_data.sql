-- Deploy chat:export_user_data to pg (reworked)
-- requires: export_user_data@v0.5.0
-- requires: current_user_id
--
-- As before, but asking require_user_id where it now lives, in chat_private:
-- a plpgsql body names what it calls, so it follows no move. The document
-- it returns, as before.

begin;

create or replace function chat.export_user_data() returns jsonb as $$
declare
  v_user_id uuid := chat_private.require_user_id();
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

commit;
