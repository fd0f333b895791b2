-- Deploy chat:search_messages to pg
-- requires: messages_rls
-- requires: messages_search_index
--
-- Full-text search over the current user's messages, best match first. The
-- words are read with websearch_to_tsquery, which takes any text a person
-- types ("quoted phrases", or, -excluded) without ever raising a syntax
-- error.

begin;

-- Why two functions. Under row security a condition that is not leakproof
-- may not run before the policy's, so `to_tsvector(content) @@ query` (not
-- leakproof, and only a superuser may declare it so) can never be an index
-- condition for chat_app: the index would yield all of the user's messages
-- and each would be parsed again. This helper runs with its owner's rights,
-- where no policy applies, so both keys of messages_search_idx (the user, the
-- words) are index conditions and it reads the user's matches only. It never
-- counts on row security for that: the user is chat.require_user_id(), in
-- its own WHERE. It hands back ids and ranks, nothing of the text; the rows
-- themselves are read by search_messages, as the caller, under the policies.
create function chat.search_message_hits(words tsquery, max_count integer)
returns table (id uuid, rank real, created_at timestamptz) as $$
  select m.id, pg_catalog.ts_rank(pg_catalog.to_tsvector('simple'::regconfig, m.content), words), m.created_at
    from chat.messages m
   where m.user_id = chat.require_user_id()
     and pg_catalog.to_tsvector('simple'::regconfig, m.content) @@ words
   order by 2 desc, m.created_at desc, m.id
   limit max_count;
$$ language sql stable security definer set search_path = pg_catalog, pg_temp;

-- An owner that does not bypass row security (a plain owner on a self-hosted
-- server: FORCE applies to it, and no policy is its) would find nothing with
-- its own rights. There the helper runs with the caller's instead: the same
-- answers, the words matched row by row.
do $$
begin
  if not exists (select from pg_catalog.pg_roles
                  where rolname = current_user and (rolsuper or rolbypassrls)) then
    alter function chat.search_message_hits(tsquery, integer) security invoker;
  end if;
end
$$;

comment on function chat.search_message_hits(tsquery, integer) is
  'search_messages'' word lookup: ids, ranks and times of the current user''s best max_count matches, by messages_search_idx. Owner''s rights where the owner bypasses row security; the user filtered explicitly.';

create function chat.search_messages(query text, max_count integer default 20)
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

comment on function chat.search_messages(text, integer) is
  'Full-text search (simple configuration, web-search syntax) over the current user''s messages: at most max_count (1..1000), best match first, then newest.';

revoke all on function chat.search_message_hits(tsquery, integer) from public;
revoke all on function chat.search_messages(text, integer) from public;
grant execute on function chat.search_message_hits(tsquery, integer) to chat_app;
grant execute on function chat.search_messages(text, integer) to chat_app;

commit;
