-- Verify chat:previous_head on pg

begin;

select previous_head_seq from chat.conversations where false;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'previous_head_seq', 'update')::int;

rollback;
