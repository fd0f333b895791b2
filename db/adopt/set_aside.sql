-- Adopting a Phase II database, step 1 of 3 (scripts/adopt runs them all).
--
-- The todo app's Phase II made schema chat with tables users and tasks (an
-- ORM's create_all: other types, tasks keyed by id alone, no row security).
-- The plan makes those tables itself, so the Phase II schema is set aside
-- under another name, rows and all, and the plan is deployed in its place;
-- step 2 copies the rows over. Before anything moves, this step checks that
-- every row will fit the plan's constraints and stops, changing nothing,
-- when one would not.

\set ON_ERROR_STOP on
begin;

do $$
declare
  v_missing text;
  v_problems text;
begin
  if to_regnamespace('chat_phase2') is not null then
    raise exception 'schema chat_phase2 exists already: a previous adoption was set aside and not finished'
      using hint = 'Finish it (scripts/adopt again) or drop schema chat_phase2 once its rows are safe.';
  end if;

  -- the columns the plan's tables take their rows from
  select string_agg(format('%s.%s', t, c), ', ')
    into v_missing
    from (values ('users', 'id'), ('users', 'email'), ('users', 'display_name'), ('users', 'created_at'),
                 ('tasks', 'id'), ('tasks', 'user_id'), ('tasks', 'title'), ('tasks', 'description'),
                 ('tasks', 'completed'), ('tasks', 'created_at'), ('tasks', 'updated_at')) as wanted (t, c)
   where not exists (select from information_schema.columns
                      where table_schema = 'chat' and table_name = t and column_name = c);
  if v_missing is not null then
    raise exception 'not a Phase II database: chat is missing %', v_missing;
  end if;

  -- the plan's keys are uuids; another key type needs a mapping first
  select string_agg(format('%s.%s is %s', table_name, column_name, data_type), ', ')
    into v_missing
    from information_schema.columns
   where table_schema = 'chat' and data_type <> 'uuid'
     and (table_name, column_name) in (('users', 'id'), ('tasks', 'id'), ('tasks', 'user_id'));
  if v_missing is not null then
    raise exception 'the plan keys users and tasks by uuid, but %', v_missing;
  end if;

  -- every row must fit the plan's constraints; name each that does not
  select string_agg(problem, E'\n')
    into v_problems
    from (
      select format('users %s: email %L is not an address of at most 320 characters', id, email)
        from chat.users
       where email is not null and not (char_length(email) <= 320 and email ~ '^[^@[:space:]]+@[^@[:space:]]+$')
      union all
      select format('users %s: display_name longer than 200 characters', id)
        from chat.users where char_length(display_name) > 200
      union all
      select format('users: email %L belongs to %s users', email, count(*))
        from chat.users where email is not null group by email having count(*) > 1
      union all
      select format('tasks %s: title must have 1 to 200 characters, not %s', id, coalesce(char_length(title)::text, 'NULL'))
        from chat.tasks where title is null or char_length(title) not between 1 and 200
      union all
      select format('tasks %s: description longer than 10000 characters', id)
        from chat.tasks where char_length(description) > 10000
      union all
      select format('tasks %s: user %s is not in users', t.id, coalesce(t.user_id::text, 'NULL'))
        from chat.tasks t where not exists (select from chat.users u where u.id = t.user_id)
      union all
      select format('tasks %s: completed is NULL', id) from chat.tasks where completed is null
      limit 100
    ) problems (problem);
  if v_problems is not null then
    raise exception E'rows that the plan''s constraints refuse; fix them, then adopt again:\n%', v_problems;
  end if;
end
$$;

select format('set aside: %s users and %s tasks, in schema chat_phase2',
              (select count(*) from chat.users), (select count(*) from chat.tasks)) as adopt \gset
\echo :adopt
alter schema chat rename to chat_phase2;

commit;
