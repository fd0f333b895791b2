-- Verify chat:message_metadata_limit on pg (reworked)

begin;

-- the definition draws its lines where it says
do $$
declare
  -- {"k": "…"} is 9 bytes of JSON around the string
  largest jsonb := pg_catalog.jsonb_build_object('k', pg_catalog.repeat('x', 1048576 - 9));
  too_large jsonb := pg_catalog.jsonb_build_object('k', pg_catalog.repeat('x', 1048576 - 8));
begin
  if pg_catalog.octet_length(largest::text) <> 1048576 then
    raise exception 'the test value is % bytes, not 1048576', pg_catalog.octet_length(largest::text);
  end if;
  if chat_private.message_metadata_problem(largest) is not null
     or chat_private.message_metadata_problem(too_large) is null
     or chat_private.message_metadata_problem('[]') is null
     or chat_private.message_metadata_problem('{}') is not null
     or chat_private.message_metadata_problem(null) is not null
  then
    raise exception 'chat_private.message_metadata_problem draws its lines in the wrong places';
  end if;
end
$$;

-- the column's domain asks it, and the table holds no check of its own on the metadata
select 1 / count(*)::int
  from pg_catalog.pg_constraint c
 where c.contypid = 'chat.message_metadata'::regtype and c.contype = 'c' and c.convalidated
   and c.conname = 'messages_metadata_valid'
   and pg_catalog.pg_get_constraintdef(c.oid) = 'CHECK ((chat_private.message_metadata_problem(VALUE) IS NULL))';
select 1 / count(*) from pg_catalog.pg_attribute
 where attrelid = 'chat.messages'::regclass and attname = 'metadata'
   and atttypid = 'chat.message_metadata'::regtype;
select 1 / (count(*) = 0)::int from pg_catalog.pg_constraint c
 where c.conrelid = 'chat.messages'::regclass and c.contype = 'c'
   and pg_catalog.pg_get_constraintdef(c.oid) like '%metadata%';

-- the rows of the functions that return messages have the column's type
select 1 / (count(*) = 2)::int from pg_catalog.pg_attribute
 where attrelid in ('chat.appended_message'::regclass, 'chat.turn_part'::regclass) and attname = 'metadata'
   and atttypid = 'chat.message_metadata'::regtype;

select 1 / (pg_catalog.to_regprocedure('chat.message_metadata_problem(jsonb)') is null)::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.message_metadata_problem(jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.message_metadata_problem(jsonb)', 'execute'))::int;

rollback;
