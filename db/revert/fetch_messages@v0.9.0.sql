-- Revert chat:fetch_messages from pg (reworked)
--
-- Back to the v0.5.0 body, which names the helpers in chat (their own
-- reverts, which run after this one, bring them back there).

begin;

create or replace function chat.fetch_messages(conversation_id uuid, after_seq bigint default 0, max_count integer default 100)
returns setof chat.messages as $$
declare
  v_problem text;
begin
  perform chat.require_user_id();

  v_problem := chat.max_count_problem(fetch_messages.max_count);
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
     where c.user_id = chat.current_user_id() and c.id = fetch_messages.conversation_id
  ) then
    perform chat.conversation_not_found(fetch_messages.conversation_id);
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
