-- Verify chat:limits on pg

begin;

-- each function draws its line where it says
do $$
begin
  if chat.role_problem('tool') is not null or chat.role_problem('admin') is null or chat.role_problem(null) is null
     or chat.content_problem(pg_catalog.repeat('ü', 10000)) is not null
     or chat.content_problem(pg_catalog.repeat('ü', 10001)) is null
     or chat.client_msg_id_problem(pg_catalog.repeat('k', 200)) is not null
     or chat.client_msg_id_problem(pg_catalog.repeat('k', 201)) is null or chat.client_msg_id_problem('') is null
     or chat.title_problem(pg_catalog.repeat('t', 200)) is not null
     or chat.title_problem(pg_catalog.repeat('t', 201)) is null
     or chat.conversation_metadata_problem(pg_catalog.jsonb_build_object('k', pg_catalog.repeat('x', 16384 - 9))) is not null
     or chat.conversation_metadata_problem(pg_catalog.jsonb_build_object('k', pg_catalog.repeat('x', 16384 - 8))) is null
     or chat.conversation_metadata_problem('[]') is null
     or chat.task_title_problem('') is null or chat.task_title_problem(pg_catalog.repeat('t', 200)) is not null
     or chat.task_description_problem(pg_catalog.repeat('d', 10001)) is null
  then
    raise exception 'a limit function draws its line in the wrong place';
  end if;
end
$$;

-- and each table's check asks its function
select 1 / (count(*) = 8)::int
  from (values ('chat.messages', 'messages_role_known', 'chat.role_problem(role)'),
               ('chat.messages', 'messages_content_length', 'chat.content_problem(content)'),
               ('chat.messages', 'messages_client_msg_id_length', 'chat.client_msg_id_problem(client_msg_id)'),
               ('chat.conversations', 'conversations_title_length', 'chat.title_problem(title)'),
               ('chat.conversations', 'conversations_metadata_valid', 'chat.conversation_metadata_problem(metadata)'),
               ('chat.turns', 'turns_opening_key_length', 'chat.client_msg_id_problem(opening_key)'),
               ('chat.tasks', 'tasks_title_length', 'chat.task_title_problem(title)'),
               ('chat.tasks', 'tasks_description_length', 'chat.task_description_problem(description)'))
       as expected (relation, name, asks)
  join pg_catalog.pg_constraint c
    on c.conrelid = expected.relation::regclass and c.conname = expected.name and c.contype = 'c' and c.convalidated
   and pg_catalog.pg_get_constraintdef(c.oid) = 'CHECK ((' || expected.asks || ' IS NULL))';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.role_problem(text)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.content_problem(text)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.client_msg_id_problem(text)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.title_problem(text)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.conversation_metadata_problem(jsonb)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.task_title_problem(text)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.task_description_problem(text)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.role_problem(text)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.content_problem(text)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.client_msg_id_problem(text)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.title_problem(text)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.conversation_metadata_problem(jsonb)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.task_title_problem(text)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.task_description_problem(text)', 'execute'))::int;

rollback;
