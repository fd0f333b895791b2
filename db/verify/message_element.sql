-- Verify chat:message_element on pg

begin;

select 1 / (chat_private.check_message_element('{"role": "user", "content": "hi", "tokens": 3}', 'messages[0]') = '{}')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.check_message_element(jsonb, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.check_message_element(jsonb, text)', 'execute'))::int;

rollback;
