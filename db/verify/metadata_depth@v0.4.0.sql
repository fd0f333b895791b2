-- Verify chat:metadata_depth on pg

begin;

-- 101 levels are refused by the argument check and by both tables
do $$
declare
  deep jsonb := ('{"k": ' || pg_catalog.repeat('[', 100) || pg_catalog.repeat(']', 100) || '}')::jsonb;
  shallow jsonb := ('{"k": ' || pg_catalog.repeat('[', 99) || pg_catalog.repeat(']', 99) || '}')::jsonb;
begin
  if chat.metadata_too_deep(shallow) or not chat.metadata_too_deep(deep) then
    raise exception 'metadata_too_deep draws the line in the wrong place';
  end if;
  begin
    perform chat.check_metadata(deep, 65536);
    raise exception 'check_metadata accepts metadata nested 101 levels deep';
  exception when invalid_parameter_value then
    null;
  end;
end
$$;

select 1 / count(*) from pg_catalog.pg_constraint
 where conrelid = 'chat.messages'::regclass and conname = 'messages_metadata_depth' and convalidated;
select 1 / count(*) from pg_catalog.pg_constraint
 where conrelid = 'chat.conversations'::regclass and conname = 'conversations_metadata_depth' and convalidated;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.metadata_too_deep(jsonb)', 'execute'))::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.metadata_too_deep(jsonb)', 'execute')::int;

rollback;
