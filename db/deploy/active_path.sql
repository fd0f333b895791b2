-- Deploy chat:active_path to pg
-- requires: message_parents
-- requires: current_user_id
--
-- The active path is read by stretches: from the head, the run of consecutive
-- messages it ends (from its stretch_from), then from the message that
-- stretch's first message follows, and so on to a first message. A
-- conversation nobody branches is one stretch, from 1; each edit along a path
-- adds one. The helpers here are what the readers, edit, switch and the
-- siblings share; they act as the current user under row security.

begin;

-- The messages that start a branch: those that do not follow the message
-- just before them (a second first message too). A conversation nobody
-- branches has none here, so appends to it pay only the predicate.
create index messages_forks_idx on chat.messages (user_id, conversation_id, parent_seq)
  where parent_seq is distinct from seq - 1 and seq > 1;

comment on index chat.messages_forks_idx is
  'The messages that start a branch (they follow a message other than the one just before them): the children of a message are the one after it when it follows it, and these.';

-- The stretches of the path that ends at through_seq, newest first: (from,
-- through) seq ranges, each of consecutive messages of the path. It stops at
-- the path's first message, once the ranges hold max_rows messages, or once a
-- range starts at or before down_to.
create function chat_private.path_ranges(
  conversation_id uuid,
  through_seq bigint,
  down_to bigint default 1,
  max_rows bigint default null
) returns table (from_seq bigint, to_seq bigint) as $$
declare
  v_user_id uuid := chat_private.current_user_id();
  v_hi bigint := path_ranges.through_seq;
  v_from bigint;
  v_parent bigint;
  v_rows bigint := 0;
begin
  while v_hi is not null loop
    select m.stretch_from into v_from
      from chat.messages m
     where m.user_id = v_user_id and m.conversation_id = path_ranges.conversation_id and m.seq = v_hi;
    exit when not found;
    from_seq := v_from;
    to_seq := v_hi;
    return next;
    v_rows := v_rows + (v_hi - v_from + 1);
    exit when v_from <= path_ranges.down_to or v_rows >= path_ranges.max_rows;
    select m.parent_seq into v_parent
      from chat.messages m
     where m.user_id = v_user_id and m.conversation_id = path_ranges.conversation_id and m.seq = v_from;
    v_hi := v_parent;
  end loop;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.path_ranges(uuid, bigint, bigint, bigint) is
  'The stretches of the current user''s path that ends at through_seq, newest first, as seq ranges of consecutive messages; it stops at the path''s first message, once the ranges hold max_rows messages, or once a range starts at or before down_to.';

revoke all on function chat_private.path_ranges(uuid, bigint, bigint, bigint) from public;
grant execute on function chat_private.path_ranges(uuid, bigint, bigint, bigint) to chat_app;

-- The last message of a stretch: within one, tokens_before grows with seq,
-- so it is the stretch's last entry in the budget's index.
create function chat_private.stretch_end(conversation_id uuid, stretch_from bigint) returns bigint as $$
  select m.seq
    from chat.messages m
   where m.user_id = chat_private.current_user_id()
     and m.conversation_id = stretch_end.conversation_id
     and m.stretch_from = stretch_end.stretch_from
   order by m.tokens_before desc, m.seq desc
   limit 1
$$ language sql stable security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.stretch_end(uuid, bigint) is
  'The last message of the current user''s stretch that starts at stretch_from (NULL when there is none).';

revoke all on function chat_private.stretch_end(uuid, bigint) from public;
grant execute on function chat_private.stretch_end(uuid, bigint) to chat_app;

commit;
