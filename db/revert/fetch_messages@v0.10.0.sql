-- Revert chat:fetch_messages from pg
--
-- The function as it was at @v0.9.0.

begin;

create or replace function chat.fetch_messages(conversation_id uuid, after_seq bigint default 0, max_count integer default 100)
returns setof chat.messages as $$
declare
  v_problem text;
begin
  perform chat_private.require_user_id();

  v_problem := chat_private.max_count_problem(fetch_messages.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;
  if fetch_messages.after_seq is null or fetch_messages.after_seq < 0 then
    raise exception 'after_seq must be 0 or more, not %', coalesce(fetch_messages.after_seq::text, 'NULL')
      using errcode = '22023', column = 'after_seq';
  end if;

  -- An empty conversation is not a missing one.
  if not exists (
    select from chat.conversations c
     where c.user_id = chat_private.current_user_id() and c.id = fetch_messages.conversation_id
  ) then
    perform chat_private.raise_conversation_not_found(fetch_messages.conversation_id);
  end if;

  return query
    select m.*
      from chat.messages m
     where m.user_id = chat_private.current_user_id()
       and m.conversation_id = fetch_messages.conversation_id
       and m.seq > fetch_messages.after_seq
     order by m.seq
     limit fetch_messages.max_count;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.fetch_messages(uuid, bigint, integer) is
  'Messages of the current user''s conversation with seq > after_seq, ascending, at most max_count (1..1000). P0002 when the conversation is missing or someone else''s.';

commit;
