-- Verify chat:export_user_data on pg

begin;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.export_user_data()', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.export_user_data()', 'execute'))::int;

rollback;
