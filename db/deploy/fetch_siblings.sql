-- Deploy chat:fetch_siblings to pg (reworked)
-- requires: fetch_siblings@v0.11.0
-- requires: active_path
-- requires: conversation_not_found
--
-- The versions of a message's position, so that a client shows "2 of 3":
-- the messages that follow the same message (for a first message, the first
-- messages), oldest first. They are the one just after that message, when it
-- follows it (a probe of the unique key), and those that start a branch from
-- it (the small index), now read by a statement each: one statement of both,
-- an OR of the two, was planned generically (where a conversation holds a
-- few messages on average) as a scan of the whole conversation, 10,225 rows
-- for one message in make bench's database.

begin;

create or replace function chat.fetch_siblings(conversation_id uuid, seq bigint)
returns setof chat.messages as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_parent bigint;
begin
  if not exists (
    select from chat.conversations c
     where c.user_id = v_user_id and c.id = fetch_siblings.conversation_id
  ) then
    perform chat_private.raise_conversation_not_found(fetch_siblings.conversation_id);
  end if;

  select m.parent_seq into v_parent
    from chat.messages m
   where m.user_id = v_user_id
     and m.conversation_id = fetch_siblings.conversation_id
     and m.seq = fetch_siblings.seq;
  if not found then
    raise exception 'seq % is not a message of this conversation', coalesce(fetch_siblings.seq::text, 'NULL')
      using errcode = '22023', column = 'seq';
  end if;

  -- the first version, then those that start a branch, oldest first (a
  -- message that starts one comes after the one just after its parent)
  if v_parent is null then
    return query
      select m.*
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = fetch_siblings.conversation_id
         and m.seq = 1;
    return query
      select m.*
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = fetch_siblings.conversation_id
         and m.parent_seq is null
         and m.parent_seq is distinct from m.seq - 1 and m.seq > 1
       order by m.seq;
  else
    return query
      select m.*
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = fetch_siblings.conversation_id
         and m.seq = v_parent + 1
         and m.parent_seq = v_parent;
    return query
      select m.*
        from chat.messages m
       where m.user_id = v_user_id
         and m.conversation_id = fetch_siblings.conversation_id
         and m.parent_seq = v_parent
         and m.parent_seq is distinct from m.seq - 1 and m.seq > 1
       order by m.seq;
  end if;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.fetch_siblings(uuid, bigint) is
  'The versions of the position of message seq in the current user''s conversation: the messages that follow the same message (the first messages, for a first one), oldest first. 22023 naming seq when it is no message of the conversation; P0002 when the conversation is missing or someone else''s.';

revoke all on function chat.fetch_siblings(uuid, bigint) from public;
grant execute on function chat.fetch_siblings(uuid, bigint) to chat_app;

commit;
