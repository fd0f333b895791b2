-- Deploy chat:fetch_recent to pg (reworked)
-- requires: fetch_recent@v0.3.0
-- requires: argument_limits
-- requires: conversation_not_found
--
-- As before (see fetch_recent@v0.3.0), with the same errors, but max_count's
-- limit asked of chat.max_count_problem and the not-found error raised by
-- chat.conversation_not_found, each written once; the query is unchanged, so
-- the last messages are still read as the index gives them.

begin;

create or replace function chat.fetch_recent(conversation_id uuid, max_count integer default 50)
returns setof chat.messages as $$
declare
  v_problem text;
begin
  perform chat.require_user_id();

  v_problem := chat.max_count_problem(fetch_recent.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;

  if not exists (
    select from chat.conversations c
     where c.user_id = chat.current_user_id() and c.id = fetch_recent.conversation_id
  ) then
    perform chat.conversation_not_found(fetch_recent.conversation_id);
  end if;

  return query
    select recent.*
      from (select m.*
              from chat.messages m
             where m.user_id = chat.current_user_id()
               and m.conversation_id = fetch_recent.conversation_id
             order by m.seq desc
             limit fetch_recent.max_count) recent
     order by recent.seq;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
