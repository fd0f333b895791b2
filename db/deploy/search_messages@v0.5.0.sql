-- Deploy chat:search_messages to pg (reworked)
-- requires: search_messages@v0.3.0
-- requires: argument_limits
--
-- As before (see search_messages@v0.3.0), with the same errors, but the
-- query's length asked of chat.search_query_problem and max_count's limit of
-- chat.max_count_problem, each written once. Only search_messages is
-- replaced: search_message_hits, its comment and its rights stay as they are.

begin;

create or replace function chat.search_messages(query text, max_count integer default 20)
returns setof chat.messages as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_words tsquery;
  v_hits uuid[];
  v_problem text;
begin
  if search_messages.query is null or pg_catalog.btrim(search_messages.query) = '' then
    raise exception 'query must not be empty'
      using errcode = '22023', column = 'query';
  end if;
  v_problem := chat.search_query_problem(search_messages.query);
  if v_problem is not null then
    raise exception 'query %', v_problem
      using errcode = '22001', column = 'query';
  end if;
  v_problem := chat.max_count_problem(search_messages.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;

  -- words the configuration ignores altogether (punctuation only) match nothing
  v_words := pg_catalog.websearch_to_tsquery('simple'::regconfig, search_messages.query);
  if pg_catalog.numnode(v_words) = 0 then
    return;
  end if;

  select pg_catalog.array_agg(h.id order by h.rank desc, h.created_at desc, h.id)
    into v_hits
    from chat.search_message_hits(v_words, search_messages.max_count) h;

  -- the rows, by primary key, as the caller: the policies have the last word
  return query
    select m.*
      from chat.messages m
     where m.user_id = v_user_id and m.id = any (v_hits)
     order by pg_catalog.array_position(v_hits, m.id);
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
