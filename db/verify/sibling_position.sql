-- Verify chat:sibling_position on pg

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.sibling_position(uuid, bigint, bigint)'::regprocedure
   and proretset and not prosecdef and prosqlbody is not null and proconfig is null;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.sibling_position(uuid, bigint, bigint)',
                                             'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.sibling_position(uuid, bigint, bigint)',
                                                  'execute'))::int;

rollback;
