-- Verify chat:events on pg

begin;

select user_id, id, kind, conversation_id, seq, created_at from chat.events where false;
select user_id, open_until, since_id, notified_at from chat_private.event_streams where false;

select 1 / (relrowsecurity and relforcerowsecurity)::int
  from pg_catalog.pg_class where oid in ('chat.events'::regclass, 'chat_private.event_streams'::regclass);
select 1 / (count(*) = 2)::int
  from pg_catalog.pg_class where oid in ('chat.events'::regclass, 'chat_private.event_streams'::regclass)
   and relrowsecurity and relforcerowsecurity;

select 1 / (count(*) = 9)::int from pg_catalog.pg_policies
 where policyname in ('events_select', 'events_insert', 'events_update', 'events_delete', 'events_audit',
                      'event_streams_select', 'event_streams_insert', 'event_streams_update',
                      'event_streams_delete');

select 1 / pg_catalog.has_table_privilege('chat_app', 'chat.events', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_auditor', 'chat.events', 'select')::int;
select 1 / pg_catalog.has_table_privilege('chat_app', 'chat_private.event_streams', 'select')::int;
-- written only by the feature's functions: no client writes either table
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.events', 'insert'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.events', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.events', 'delete'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat_private.event_streams', 'insert'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat_private.event_streams', 'update'))::int;
select 1 / (not pg_catalog.has_table_privilege('chat_auditor', 'chat.events', 'insert'))::int;

rollback;
