-- Verify chat:check_message on pg (reworked)

begin;

-- a good message passes with its metadata; a bad field is named with the prefix
do $$
declare
  v_column text;
begin
  if chat_private.check_message('user', '', null, null) <> '{}' then
    raise exception 'check_message does not read NULL metadata as {}';
  end if;
  begin
    perform chat_private.check_message('user', pg_catalog.repeat('x', 10001), '{}', null, 'messages[3].');
    raise exception 'check_message accepts 10001 characters of content';
  exception when string_data_right_truncation then
    get stacked diagnostics v_column = column_name;
    if v_column <> 'messages[3].content' then
      raise exception 'check_message names % for the content', v_column;
    end if;
  end;
  begin
    perform chat_private.check_message('user', '', ('{"k": ' || pg_catalog.repeat('[', 100) || pg_catalog.repeat(']', 100) || '}')::jsonb, null);
    raise exception 'check_message accepts metadata nested 101 levels deep';
  exception when invalid_parameter_value then
    get stacked diagnostics v_column = column_name;
    if v_column <> 'metadata' then
      raise exception 'check_message names % for the depth', v_column;
    end if;
  end;
end
$$;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat_private.check_message(text, text, jsonb, text, text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat_private.check_message(text, text, jsonb, text, text)', 'execute'))::int;

-- its limits are asked of their functions (the change limits), not written out
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat_private.check_message(text, text, jsonb, text, text)'::regprocedure
   and prosrc like '%chat_private.content_problem(%' and prosrc like '%chat_private.message_metadata_problem(%'
   and prosrc not like '%10000%' and prosrc not like '%chat.%';

rollback;
