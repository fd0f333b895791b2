-- Verify chat:message_parents on pg

begin;

select parent_seq, stretch_from from chat.messages where false;
select head_seq from chat.conversations where false;
select 1 / pg_catalog.has_column_privilege('chat_app', 'chat.conversations', 'head_seq', 'update')::int;
select 1 / (pg_catalog.count(*) = 3)::int
  from pg_catalog.pg_constraint
 where conname in ('messages_parent_precedes', 'messages_stretch_within', 'conversations_head');
-- the budget's index, per stretch (tokens_before_index moves stretch_from
-- to its front)
select 1 / pg_catalog.count(*)::int
  from pg_catalog.pg_index i
 where i.indexrelid = 'chat.messages_tokens_before_idx'::regclass
   and (select attnum from pg_catalog.pg_attribute
         where attrelid = 'chat.messages'::regclass and attname = 'stretch_from') = any (i.indkey::int2[]);

select 1 / (pg_catalog.count(*) = 2)::int
  from pg_catalog.pg_trigger
 where tgenabled = 'O'
   and ((tgrelid = 'chat.messages'::regclass and tgname = 'messages_tokens_before'
         and pg_catalog.pg_get_triggerdef(oid) like '%stretch_from IS NULL%')
        or (tgrelid = 'chat.conversations'::regclass and tgname = 'conversations_default_head'));
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.conversations_default_head()', 'execute'))::int;

-- the row types carry parent_seq and stretch_from, replayed or over_budget last
select 1 / (pg_catalog.count(*) = 3)::int
  from pg_catalog.pg_attribute a
 where a.attrelid in ('chat.appended_message'::regclass, 'chat.turn_part'::regclass,
                      'chat.context_message'::regclass)
   and a.attname in ('replayed', 'over_budget')
   and not a.attisdropped
   and a.attnum > (select b.attnum from pg_catalog.pg_attribute b
                    where b.attrelid = a.attrelid and b.attname = 'stretch_from' and not b.attisdropped);

rollback;
