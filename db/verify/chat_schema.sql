-- Verify chat:chat_schema on pg
--
-- Each check divides by zero when it does not hold.

begin;

select 1 / pg_catalog.has_schema_privilege('chat_app', 'chat', 'usage')::int;
select 1 / pg_catalog.has_schema_privilege('chat_auditor', 'chat', 'usage')::int;
select 1 / (not pg_catalog.has_schema_privilege('chat_app', 'chat', 'create'))::int;

rollback;
