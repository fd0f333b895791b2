-- Verify chat:append_message on pg

begin;

select id, conversation_id, user_id, seq, role, content, metadata, client_msg_id, created_at, replayed
  from (select (null::chat.appended_message).*) r where false;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.append_message(uuid, text, text, jsonb, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.append_message(uuid, text, text, jsonb, text)', 'execute'))::int;

rollback;
