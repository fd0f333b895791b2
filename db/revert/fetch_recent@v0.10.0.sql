-- Revert chat:fetch_recent from pg
--
-- The function as it was at @v0.9.0.

begin;

create or replace function chat.fetch_recent(conversation_id uuid, max_count integer default 50)
returns setof chat.messages as $$
declare
  v_problem text;
begin
  perform chat_private.require_user_id();

  v_problem := chat_private.max_count_problem(fetch_recent.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;

  if not exists (
    select from chat.conversations c
     where c.user_id = chat_private.current_user_id() and c.id = fetch_recent.conversation_id
  ) then
    perform chat_private.raise_conversation_not_found(fetch_recent.conversation_id);
  end if;

  return query
    select recent.*
      from (select m.*
              from chat.messages m
             where m.user_id = chat_private.current_user_id()
               and m.conversation_id = fetch_recent.conversation_id
             order by m.seq desc
             limit fetch_recent.max_count) recent
     order by recent.seq;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.fetch_recent(uuid, integer) is
  'The last max_count (1..1000) messages of the current user''s conversation, in ascending seq. P0002 when the conversation is missing or someone else''s.';

commit;
