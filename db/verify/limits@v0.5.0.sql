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

-- and each is inlined where it is asked: no call of it is left in a plan
do $$
declare
  v_line text;
begin
  for v_line in
    explain (verbose, costs off)
    select chat.role_problem(g::text), chat.content_problem(g::text), chat.client_msg_id_problem(g::text),
           chat.title_problem(g::text), chat.conversation_metadata_problem(pg_catalog.to_jsonb(g)),
           chat.task_title_problem(g::text), chat.task_description_problem(g::text)
      from pg_catalog.generate_series(1, 2) g
  loop
    if v_line like '%chat.%' then
      raise exception 'a limit function is not inlined: %', v_line;
    end if;
  end loop;
end
$$;

-- each column holds its limit in its type: a domain whose check asks the function
select 1 / (count(*) = 10)::int
  from (values ('chat.messages', 'role', 'messages_role_known', '(VALUE IS NULL) OR (chat.role_problem(VALUE) IS NULL)'),
               ('chat.messages', 'content', 'messages_content_length', 'chat.content_problem(VALUE) IS NULL'),
               ('chat.messages', 'client_msg_id', 'client_msg_id_length', 'chat.client_msg_id_problem(VALUE) IS NULL'),
               ('chat.turns', 'opening_key', 'client_msg_id_length', 'chat.client_msg_id_problem(VALUE) IS NULL'),
               ('chat.conversations', 'title', 'conversations_title_length', 'chat.title_problem(VALUE) IS NULL'),
               ('chat.conversations', 'metadata', 'conversations_metadata_valid',
                'chat.conversation_metadata_problem(VALUE) IS NULL'),
               ('chat.conversations', 'metadata', 'conversations_metadata_depth', 'NOT chat.metadata_too_deep(VALUE)'),
               ('chat.tasks', 'title', 'tasks_title_length', 'chat.task_title_problem(VALUE) IS NULL'),
               ('chat.tasks', 'description', 'tasks_description_length',
                'chat.task_description_problem(VALUE) IS NULL'),
               ('chat.messages', 'metadata', 'messages_metadata_valid', 'chat.message_metadata_problem(VALUE) IS NULL'))
       as expected (relation, attname, name, asks)
  join pg_catalog.pg_attribute a on a.attrelid = expected.relation::regclass and a.attname = expected.attname
  join pg_catalog.pg_constraint c
    on c.contypid = a.atttypid and c.conname = expected.name and c.contype = 'c' and c.convalidated
   and pg_catalog.pg_get_constraintdef(c.oid) = 'CHECK ((' || expected.asks || '))';

-- and no table writes a limit of its own: what checks are left are of the rows' consistency
select 1 / (count(*) = 0)::int
  from pg_catalog.pg_constraint c
 where c.conrelid in ('chat.messages'::regclass, 'chat.conversations'::regclass, 'chat.turns'::regclass,
                      'chat.tasks'::regclass)
   and c.contype = 'c' and pg_catalog.pg_get_constraintdef(c.oid) ~ '_problem|too_deep|char_length|octet_length';

-- the rows of the functions that return messages have the columns' types
select 1 / (count(*) = 6)::int from pg_catalog.pg_attribute a
  join pg_catalog.pg_attribute m on m.attrelid = 'chat.messages'::regclass and m.attname = a.attname
 where a.attrelid in ('chat.appended_message'::regclass, 'chat.turn_part'::regclass)
   and a.attname in ('role', 'content', 'client_msg_id') and a.atttypid = m.atttypid;

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
