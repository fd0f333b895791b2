-- Verify chat:metadata_depth on pg (reworked)

begin;

-- the validator draws the line where it says, and both metadata validators ask it
do $$
declare
  deep jsonb := ('{"k": ' || pg_catalog.repeat('[', 100) || pg_catalog.repeat(']', 100) || '}')::jsonb;
  shallow jsonb := ('{"k": ' || pg_catalog.repeat('[', 99) || pg_catalog.repeat(']', 99) || '}')::jsonb;
begin
  if chat_private.metadata_depth_problem(shallow) is not null
     or chat_private.metadata_depth_problem(deep) is distinct from 'is nested more than 100 levels deep'
     or chat_private.metadata_depth_problem('{}') is not null
     or chat_private.metadata_depth_problem(null) is not null
     or chat_private.message_metadata_problem(shallow) is not null
     or chat_private.message_metadata_problem(deep) is distinct from 'is nested more than 100 levels deep'
     or chat_private.conversation_metadata_problem(shallow) is not null
     or chat_private.conversation_metadata_problem(deep) is distinct from 'is nested more than 100 levels deep'
  then
    raise exception 'the metadata''s depth is judged in the wrong place';
  end if;
end
$$;

-- a SQL-standard body without settings, inlined where it is asked: no call of it is left in a plan
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.metadata_depth_problem(jsonb)'::regprocedure
   and prosqlbody is not null and proconfig is null;
do $$
declare
  v_line text;
begin
  for v_line in
    explain (verbose, costs off)
    select chat_private.message_metadata_problem(pg_catalog.to_jsonb(g)),
           chat_private.conversation_metadata_problem(pg_catalog.to_jsonb(g))
      from pg_catalog.generate_series(1, 2) g
  loop
    if v_line like '%chat_private.%' then
      raise exception 'a metadata validator is not inlined: %', v_line;
    end if;
  end loop;
end
$$;

-- the columns hold it: each metadata column's domain asks its validator
select 1 / (count(*) = 2)::int
  from pg_catalog.pg_attribute a
  join pg_catalog.pg_constraint c on c.contypid = a.atttypid and c.contype = 'c' and c.convalidated
 where a.attname = 'metadata' and a.attrelid in ('chat.messages'::regclass, 'chat.conversations'::regclass)
   and pg_catalog.pg_get_constraintdef(c.oid) ~ '^CHECK \(\(chat_private\.(message|conversation)_metadata_problem\(VALUE\) IS NULL\)\)$';

-- each metadata domain has the one check, and no check names the predicate any more
select 1 / (count(*) = 0)::int from pg_catalog.pg_constraint c
 where c.contypid in ('chat.message_metadata'::regtype, 'chat.conversation_metadata'::regtype)
   and c.conname in ('messages_metadata_depth', 'conversations_metadata_depth');
select 1 / (pg_catalog.to_regprocedure('chat.metadata_too_deep(jsonb)') is null)::int;

select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.metadata_depth_problem(jsonb)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.metadata_depth_problem(jsonb)', 'execute')::int;

rollback;
