-- Revert chat:search_messages from pg (reworked)
--
-- Back to the bodies of search_messages@v0.5.0, which name the helpers in
-- chat (their own reverts, which run after this one, bring them back there),
-- and search_message_hits back in chat.

begin;

-- search_message_hits' body (language sql, a string) is checked at creation,
-- and require_user_id is still in chat_private until its own revert
set local check_function_bodies = off;

create or replace function chat_private.search_message_hits(words tsquery, max_count integer)
returns table (id uuid, rank real, created_at timestamptz) as $$
  select m.id, pg_catalog.ts_rank(pg_catalog.to_tsvector('simple'::regconfig, m.content), words), m.created_at
    from chat.messages m
   where m.user_id = chat.require_user_id()
     and pg_catalog.to_tsvector('simple'::regconfig, m.content) @@ words
   order by 2 desc, m.created_at desc, m.id
   limit max_count;
$$ language sql stable security definer set search_path = pg_catalog, pg_temp;

-- create or replace made it security definer again: where its owner does not
-- bypass row security, back to the caller's rights, as in search_messages@v0.3.0
-- (asked of the function's owner, who may not be the role running this).
do $$
begin
  if not exists (select from pg_catalog.pg_roles r
                   join pg_catalog.pg_proc p on p.proowner = r.oid
                  where p.oid = 'chat_private.search_message_hits(tsquery, integer)'::pg_catalog.regprocedure
                    and (r.rolsuper or r.rolbypassrls)) then
    alter function chat_private.search_message_hits(tsquery, integer) security invoker;
  end if;
end
$$;

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

alter function chat_private.search_message_hits(tsquery, integer) set schema chat;

commit;
