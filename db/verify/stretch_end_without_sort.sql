-- Verify chat:stretch_end_without_sort on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.stretch_end(uuid, bigint)'::regprocedure
   and proconfig @> '{enable_sort=off}';

rollback;
