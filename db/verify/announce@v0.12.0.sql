-- Verify chat:announce on pg

begin;

select 1 / (count(*) = 4)::int from pg_catalog.pg_trigger
 where not tgisinternal
   and tgname in ('messages_announce', 'conversations_announce_insert_delete', 'conversations_announce_update',
                  'users_end_event_stream');

select 1 / (count(*) = 2)::int from pg_catalog.pg_proc p
 where p.oid in ('chat_private.announce()'::regprocedure, 'chat_private.end_event_stream()'::regprocedure)
   and p.prosecdef;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.announce()', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_app', 'chat_private.announce()', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.end_event_stream()', 'execute'))::int;

rollback;
