-- Verify chat:message_tokens on pg

begin;

-- the estimate, by its rule
select 1 / (chat_private.estimated_tokens('', '{}') = 4)::int;
select 1 / (chat_private.estimated_tokens('abcde', '{}') = 6)::int;
select 1 / (chat_private.estimated_tokens('a', '{"k": "abcdefghijklmno"}') = 10)::int;

-- the columns, tokens a plain one that a row inserted without it gets from the trigger
select tokens_given, tokens from chat.messages where false;
select 1 / pg_catalog.count(*)::int
  from pg_catalog.pg_attribute a
 where a.attrelid = 'chat.messages'::regclass
   and a.attname = 'tokens'
   and a.attgenerated = ''
   and a.attnotnull;
select 1 / pg_catalog.count(*)::int
  from pg_catalog.pg_trigger t
 where t.tgrelid = 'chat.messages'::regclass
   and t.tgname = 'messages_estimate_tokens'
   and t.tgfoid = 'chat_private.messages_estimate_tokens()'::regprocedure
   and t.tgenabled = 'O';

-- the row types carry them, replayed last
select 1 / (pg_catalog.count(*) = 2)::int
  from pg_catalog.pg_attribute a
 where a.attrelid in ('chat.appended_message'::regclass, 'chat.turn_part'::regclass)
   and a.attname = 'replayed'
   and not a.attisdropped
   and a.attnum > (select b.attnum from pg_catalog.pg_attribute b
                    where b.attrelid = a.attrelid and b.attname = 'tokens');

-- a count is 0 or more
select 1 / (chat_private.tokens_problem(-1) is not null)::int;
select 1 / (chat_private.tokens_problem(0) is null)::int;

-- the runtime role writes messages, so it asks both; PUBLIC neither, nor the trigger's function
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.estimated_tokens(text, jsonb)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.tokens_problem(bigint)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.estimated_tokens(text, jsonb)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.tokens_problem(bigint)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.messages_estimate_tokens()', 'execute'))::int;

rollback;
