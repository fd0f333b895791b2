-- Verify chat:conversation_not_found on pg

begin;

-- it raises P0002 with the conversation named, and nothing else
do $$
declare
  v_message text;
  v_column text;
begin
  begin
    perform chat.conversation_not_found('00000000-0000-0000-0000-000000000001');
    raise exception 'conversation_not_found raises nothing';
  exception when no_data_found then
    get stacked diagnostics v_message = message_text, v_column = column_name;
    if v_message <> 'conversation 00000000-0000-0000-0000-000000000001 not found' or v_column <> '' then
      raise exception 'conversation_not_found raises % (column %)', v_message, v_column;
    end if;
  end;
end
$$;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.conversation_not_found(uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.conversation_not_found(uuid)', 'execute'))::int;

rollback;
