-- Revert chat:fetch_messages from pg (reworked)
--
-- Back to the function of fetch_messages@v0.3.0, with max_count's limit and
-- the not-found error written out.

begin;

create or replace function chat.fetch_messages(conversation_id uuid, after_seq bigint default 0, max_count integer default 100)
returns setof chat.messages as $$
begin
  perform chat.require_user_id();

  if fetch_messages.max_count is null or fetch_messages.max_count not between 1 and 1000 then
    raise exception 'max_count must be between 1 and 1000, not %', coalesce(fetch_messages.max_count::text, 'NULL')
      using errcode = '22023', column = 'max_count';
  end if;
  if fetch_messages.after_seq is null or fetch_messages.after_seq < 0 then
    raise exception 'after_seq must be 0 or more, not %', coalesce(fetch_messages.after_seq::text, 'NULL')
      using errcode = '22023', column = 'after_seq';
  end if;

  -- An empty conversation is not a missing one.
  if not exists (
    select from chat.conversations c
     where c.user_id = chat.current_user_id() and c.id = fetch_messages.conversation_id
  ) then
    raise exception 'conversation % not found', fetch_messages.conversation_id
      using errcode = 'P0002';
  end if;

  return query
    select m.*
      from chat.messages m
     where m.user_id = chat.current_user_id()
       and m.conversation_id = fetch_messages.conversation_id
       and m.seq > fetch_messages.after_seq
     order by m.seq
     limit fetch_messages.max_count;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
