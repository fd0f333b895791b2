-- Verify chat:message_tokens_before on pg

begin;

select tokens_before from chat.messages where false;
select 'chat.messages_tokens_before_idx'::regclass;
select 'chat_private.messages_tokens_before()'::regprocedure;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.messages_tokens_before()', 'execute'))::int;
select 1 / pg_catalog.count(*)::int
  from pg_catalog.pg_trigger
 where tgrelid = 'chat.messages'::regclass and tgname = 'messages_tokens_before' and tgenabled = 'O';

-- the writers' row types carry it, replayed last
select 1 / (pg_catalog.count(*) = 2)::int
  from pg_catalog.pg_attribute a
 where a.attrelid in ('chat.appended_message'::regclass, 'chat.turn_part'::regclass)
   and a.attname = 'replayed'
   and not a.attisdropped
   and a.attnum > (select b.attnum from pg_catalog.pg_attribute b
                    where b.attrelid = a.attrelid and b.attname = 'tokens_before' and not b.attisdropped);

rollback;
