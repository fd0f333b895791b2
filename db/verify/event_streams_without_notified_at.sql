-- Verify chat:event_streams_without_notified_at on pg

begin;

select 1 / (count(*) = 0)::int from pg_catalog.pg_attribute
 where attrelid = 'chat_private.event_streams'::regclass and attname = 'notified_at' and not attisdropped;

rollback;
