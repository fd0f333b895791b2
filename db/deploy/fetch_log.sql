-- Deploy chat:fetch_log to pg
-- requires: message_parents
-- requires: current_user_id
-- requires: argument_limits
-- requires: conversation_not_found
--
-- The raw log of a conversation: every message of every branch, by seq
-- (creation order), with parent_seq to draw the tree. fetch_messages reads
-- the active path; auditors and clients that show the whole tree read this.

begin;

create function chat.fetch_log(conversation_id uuid, after_seq bigint default 0, max_count integer default 100)
returns setof chat.messages as $$
declare
  v_problem text;
begin
  perform chat_private.require_user_id();

  v_problem := chat_private.max_count_problem(fetch_log.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;
  if fetch_log.after_seq is null or fetch_log.after_seq < 0 then
    raise exception 'after_seq must be 0 or more, not %', coalesce(fetch_log.after_seq::text, 'NULL')
      using errcode = '22023', column = 'after_seq';
  end if;

  -- An empty conversation is not a missing one.
  if not exists (
    select from chat.conversations c
     where c.user_id = chat_private.current_user_id() and c.id = fetch_log.conversation_id
  ) then
    perform chat_private.raise_conversation_not_found(fetch_log.conversation_id);
  end if;

  return query
    select m.*
      from chat.messages m
     where m.user_id = chat_private.current_user_id()
       and m.conversation_id = fetch_log.conversation_id
       and m.seq > fetch_log.after_seq
     order by m.seq
     limit fetch_log.max_count;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.fetch_log(uuid, bigint, integer) is
  'Every message of the current user''s conversation, of every branch, with seq > after_seq, by seq (creation order), at most max_count (1..1000); parent_seq draws the tree. P0002 when the conversation is missing or someone else''s.';

revoke all on function chat.fetch_log(uuid, bigint, integer) from public;
grant execute on function chat.fetch_log(uuid, bigint, integer) to chat_app;

commit;
