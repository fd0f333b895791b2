-- Verify chat:argument_limits on pg

begin;

-- each function draws its line where it says
do $$
begin
  if chat.max_count_problem(1) is not null or chat.max_count_problem(1000) is not null
     or chat.max_count_problem(0) is null or chat.max_count_problem(1001) is null or chat.max_count_problem(null) is null
     or chat.search_query_problem(pg_catalog.repeat('ü', 1000)) is not null
     or chat.search_query_problem(pg_catalog.repeat('ü', 1001)) is null
     or chat.message_batch_problem('[{}]') is not null
     or chat.message_batch_problem(pg_catalog.jsonb_build_array()) is null
     or chat.message_batch_problem((select pg_catalog.jsonb_agg(g) from pg_catalog.generate_series(1, 1000) g)) is not null
     or chat.message_batch_problem((select pg_catalog.jsonb_agg(g) from pg_catalog.generate_series(1, 1001) g)) is null
     or chat.message_batch_problem('{}') is null or chat.message_batch_problem(null) is null
  then
    raise exception 'an argument limit function draws its line in the wrong place';
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
    select chat.max_count_problem(g), chat.search_query_problem(g::text),
           chat.message_batch_problem(pg_catalog.to_jsonb(g))
      from pg_catalog.generate_series(1, 2) g
  loop
    if v_line like '%chat.%' then
      raise exception 'an argument limit function is not inlined: %', v_line;
    end if;
  end loop;
end
$$;

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.max_count_problem(integer)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.search_query_problem(text)', 'execute')::int;
select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.message_batch_problem(jsonb)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.max_count_problem(integer)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.search_query_problem(text)', 'execute'))::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.message_batch_problem(jsonb)', 'execute'))::int;

rollback;
