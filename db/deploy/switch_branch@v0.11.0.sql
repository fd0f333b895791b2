-- Deploy chat:switch_branch to pg
-- requires: active_path
-- requires: conversation_not_found
--
-- A person switches to another version of a message ("< 2/3 >"): the head
-- moves to the newest leaf under it, so that the active path runs through it
-- and on to where that branch was left. The newest message under one is a
-- leaf (a message's children come after it), and the newest under a message
-- ends one of the stretches below it: found stretch by stretch, each through
-- the small index of the messages that start a branch.

begin;

create function chat.switch_branch(conversation_id uuid, seq bigint)
returns chat.conversations as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_stretch bigint;
  v_leaf bigint;
  v_switched chat.conversations;
begin
  perform
    from chat.conversations c
   where c.user_id = v_user_id
     and c.id = switch_branch.conversation_id
     for update;
  if not found then
    perform chat_private.raise_conversation_not_found(switch_branch.conversation_id);
  end if;

  select m.stretch_from into v_stretch
    from chat.messages m
   where m.user_id = v_user_id
     and m.conversation_id = switch_branch.conversation_id
     and m.seq = switch_branch.seq;
  if not found then
    raise exception 'seq % is not a message of this conversation', coalesce(switch_branch.seq::text, 'NULL')
      using errcode = '22023', column = 'seq';
  end if;

  -- the stretches under seq: the rest of its own, then each that starts from
  -- a message of one already found
  with recursive under (from_seq, to_seq) as (
    select switch_branch.seq, chat_private.stretch_end(switch_branch.conversation_id, v_stretch)
    union all
    select f.seq, chat_private.stretch_end(switch_branch.conversation_id, f.seq)
      from under u
      join chat.messages f
        on f.user_id = v_user_id
       and f.conversation_id = switch_branch.conversation_id
       and f.parent_seq between u.from_seq and u.to_seq
       and f.parent_seq is distinct from f.seq - 1 and f.seq > 1
  )
  select max(u.to_seq) into v_leaf from under u;

  update chat.conversations c
     set head_seq = v_leaf
   where c.user_id = v_user_id
     and c.id = switch_branch.conversation_id
  returning c.* into v_switched;
  return v_switched;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.switch_branch(uuid, bigint) is
  'The head of the current user''s conversation becomes the newest leaf under message seq: the active path runs through seq to where its branch was left. Returns the conversation. 22023 naming seq when it is no message of the conversation; P0002 when the conversation is missing or someone else''s.';

revoke all on function chat.switch_branch(uuid, bigint) from public;
grant execute on function chat.switch_branch(uuid, bigint) to chat_app;

commit;
