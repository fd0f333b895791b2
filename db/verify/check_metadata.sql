-- Verify chat:check_metadata on pg (reworked)

begin;

-- gone: no function of that name in any schema
select 1 / (count(*) = 0)::int from pg_catalog.pg_proc where proname = 'check_metadata';

rollback;
