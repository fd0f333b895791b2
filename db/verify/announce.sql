-- Verify chat:announce on pg

begin;

select 1 / (count(*) = 4)::int from pg_catalog.pg_trigger
 where not tgisinternal
   and tgname in ('messages_announce', 'conversations_announce_insert_delete', 'conversations_announce_update',
                  'users_end_event_stream');

-- the announcement of the change its user's streams wait for
select 1 / count(*) from pg_catalog.pg_proc p
 where p.oid = 'chat_private.announce()'::regprocedure
   and p.prosecdef
   and p.prosrc like '%s.announce_after into v_previous%';
select 1 / count(*) from pg_catalog.pg_proc p
 where p.oid = 'chat_private.end_event_stream()'::regprocedure and p.prosecdef;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.announce()', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('chat_app', 'chat_private.announce()', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.end_event_stream()', 'execute'))::int;

rollback;
