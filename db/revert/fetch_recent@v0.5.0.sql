-- Revert chat:fetch_recent from pg (reworked)
--
-- Back to the function of fetch_recent@v0.3.0, with max_count's limit and the
-- not-found error written out.

begin;

create or replace function chat.fetch_recent(conversation_id uuid, max_count integer default 50)
returns setof chat.messages as $$
begin
  perform chat.require_user_id();

  if fetch_recent.max_count is null or fetch_recent.max_count not between 1 and 1000 then
    raise exception 'max_count must be between 1 and 1000, not %', coalesce(fetch_recent.max_count::text, 'NULL')
      using errcode = '22023', column = 'max_count';
  end if;

  if not exists (
    select from chat.conversations c
     where c.user_id = chat.current_user_id() and c.id = fetch_recent.conversation_id
  ) then
    raise exception 'conversation % not found', fetch_recent.conversation_id
      using errcode = 'P0002';
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
