-- Verify chat:turns_reply_key on pg

begin;

select reply_key from chat.turns where false;
select 1 / (pg_catalog.format_type(a.atttypid, a.atttypmod) = 'chat.client_msg_id')::int
  from pg_catalog.pg_attribute a
 where a.attrelid = 'chat.turns'::regclass and a.attname = 'reply_key' and not a.attisdropped;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.turns', 'reply_key', 'update')::int;

rollback;
