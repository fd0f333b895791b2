-- Verify chat:metadata_depth on pg

begin;

-- 101 levels are too deep, 100 are not
do $$
declare
  deep jsonb := ('{"k": ' || pg_catalog.repeat('[', 100) || pg_catalog.repeat(']', 100) || '}')::jsonb;
  shallow jsonb := ('{"k": ' || pg_catalog.repeat('[', 99) || pg_catalog.repeat(']', 99) || '}')::jsonb;
begin
  if chat.metadata_too_deep(shallow) or not chat.metadata_too_deep(deep) or chat.metadata_too_deep('{}') then
    raise exception 'metadata_too_deep draws the line in the wrong place';
  end if;
end
$$;

-- inlinable: a SQL-standard body and no setting of its own
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.metadata_too_deep(jsonb)'::regprocedure and prosqlbody is not null and proconfig is null;

-- the metadata of messages and of conversations is held to it, by the table or by the column's domain
select 1 / (count(distinct a.attrelid) = 2)::int
  from pg_catalog.pg_attribute a
  join pg_catalog.pg_constraint c
    on (c.conrelid = a.attrelid and a.attnum = any (c.conkey)) or c.contypid = a.atttypid
 where a.attrelid in ('chat.messages'::regclass, 'chat.conversations'::regclass) and a.attname = 'metadata'
   and c.contype = 'c' and c.convalidated
   and pg_catalog.pg_get_constraintdef(c.oid) like '%chat.metadata_too_deep(%';

select 1 / (not pg_catalog.has_function_privilege('public', 'chat.metadata_too_deep(jsonb)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.metadata_too_deep(jsonb)', 'execute')::int;

rollback;
