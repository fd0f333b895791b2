-- Revert chat:search_messages from pg (reworked)
--
-- Back to the function of search_messages@v0.3.0, with the query's length and
-- max_count's limit written out.

begin;

create or replace function chat.search_messages(query text, max_count integer default 20)
returns setof chat.messages as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_words tsquery;
  v_hits uuid[];
begin
  if search_messages.query is null or pg_catalog.btrim(search_messages.query) = '' then
    raise exception 'query must not be empty'
      using errcode = '22023', column = 'query';
  end if;
  if pg_catalog.char_length(search_messages.query) > 1000 then
    raise exception 'query is longer than 1000 characters (% characters)', pg_catalog.char_length(search_messages.query)
      using errcode = '22001', column = 'query';
  end if;
  if search_messages.max_count is null or search_messages.max_count not between 1 and 1000 then
    raise exception 'max_count must be between 1 and 1000, not %', coalesce(search_messages.max_count::text, 'NULL')
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
