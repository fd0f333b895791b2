-- Verify chat:active_path on pg

begin;

select 'chat.messages_forks_idx'::regclass;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.path_ranges(uuid, bigint, bigint, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.path_ranges(uuid, bigint, bigint, bigint)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.stretch_end(uuid, bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.stretch_end(uuid, bigint)', 'execute'))::int;

rollback;
