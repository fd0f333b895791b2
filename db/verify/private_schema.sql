-- Verify chat:private_schema on pg

begin;

-- the runtime role may use it; PUBLIC, the auditor and the operator may not
select 1 / pg_catalog.has_schema_privilege('chat_app', 'chat_private', 'usage')::int;
select 1 / (not pg_catalog.has_schema_privilege('public', 'chat_private', 'usage'))::int;
select 1 / (not pg_catalog.has_schema_privilege('chat_auditor', 'chat_private', 'usage'))::int;
select 1 / (not pg_catalog.has_schema_privilege('chat_operator', 'chat_private', 'usage'))::int;
select 1 / (not pg_catalog.has_schema_privilege('chat_app', 'chat_private', 'create'))::int;

rollback;
