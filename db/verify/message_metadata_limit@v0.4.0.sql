-- Verify chat:message_metadata_limit on pg

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
  if chat.message_metadata_problem(largest) is not null
     or chat.message_metadata_problem(too_large) is null
     or chat.message_metadata_problem('[]') is null
     or chat.message_metadata_problem('{}') is not null
     or chat.message_metadata_problem(null) is not null
  then
    raise exception 'chat.message_metadata_problem draws its lines in the wrong places';
  end if;
end
$$;

-- the table asks it, and holds no other check of the metadata's type or size
select 1 / count(*) from pg_catalog.pg_constraint
 where conrelid = 'chat.messages'::regclass and conname = 'messages_metadata_valid' and convalidated
   and pg_catalog.pg_get_constraintdef(oid) like '%chat.message_metadata_problem(metadata)%';
select 1 / (count(*) = 0)::int from pg_catalog.pg_constraint
 where conrelid = 'chat.messages'::regclass
   and conname in ('messages_metadata_object', 'messages_metadata_size');

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.message_metadata_problem(jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.message_metadata_problem(jsonb)', 'execute'))::int;

rollback;
