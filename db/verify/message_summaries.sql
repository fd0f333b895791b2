-- Verify chat:message_summaries on pg

begin;

select summary_from, summary_through from chat.messages where false;
select 1 / pg_catalog.count(*)::int
  from pg_catalog.pg_constraint
 where conrelid = 'chat.messages'::regclass and conname = 'messages_summary_range';
select 'chat.messages_summaries_idx'::regclass;

-- the row types carry the range, replayed last
select 1 / (pg_catalog.count(*) = 2)::int
  from pg_catalog.pg_attribute a
 where a.attrelid in ('chat.appended_message'::regclass, 'chat.turn_part'::regclass)
   and a.attname = 'replayed'
   and not a.attisdropped
   and a.attnum > (select b.attnum from pg_catalog.pg_attribute b
                    where b.attrelid = a.attrelid and b.attname = 'summary_through');

rollback;
