-- Deploy chat:sibling_position to pg
-- requires: active_path
--
-- A client draws "2 of 3" beside a message without another call: the HTTP
-- routes read each message's place among its versions (the messages that
-- follow the same one) in the statement that reads the message. The main
-- child of a message (the one just after it) is one probe of the seq index,
-- the others are in messages_forks_idx, which is empty when nobody branches.
-- A SQL-standard body, so that it is inlined into the query that calls it.
-- The main child is found as the first message after the parent (seq >
-- parent_seq, limit 1): written as seq = parent_seq + 1 on the page's
-- column, it was planned as a scan of the conversation for every message.
-- The message itself is counted whether or not the calling statement sees
-- it (a message its own function call just stored is not visible to it).

begin;

create function chat_private.sibling_position(conversation_id uuid, seq bigint, parent_seq bigint)
returns table (sibling_index bigint, sibling_count bigint)
language sql stable security invoker
begin atomic
  select 1 + count(*) filter (where s.seq < sibling_position.seq),
         1 + count(*) filter (where s.seq <> sibling_position.seq)
    from (-- the main child: the message just after the parent, when it follows it
          select n.seq
            from (select m.seq, m.parent_seq
                    from chat.messages m
                   where m.user_id = chat_private.current_user_id()
                     and m.conversation_id = sibling_position.conversation_id
                     and m.seq > sibling_position.parent_seq
                   order by m.seq
                   limit 1) n
           where n.parent_seq = sibling_position.parent_seq
          union all
          select m.seq
            from chat.messages m
           where sibling_position.parent_seq is null
             and m.user_id = chat_private.current_user_id()
             and m.conversation_id = sibling_position.conversation_id
             and m.seq = 1
          -- the others, which start branches
          union all
          select m.seq
            from chat.messages m
           where m.user_id = chat_private.current_user_id()
             and m.conversation_id = sibling_position.conversation_id
             and m.parent_seq = sibling_position.parent_seq
             and m.parent_seq is distinct from m.seq - 1 and m.seq > 1
          union all
          select m.seq
            from chat.messages m
           where sibling_position.parent_seq is null
             and m.user_id = chat_private.current_user_id()
             and m.conversation_id = sibling_position.conversation_id
             and m.parent_seq is null
             and m.parent_seq is distinct from m.seq - 1 and m.seq > 1) s;
end;

comment on function chat_private.sibling_position(uuid, bigint, bigint) is
  'The place of message seq (which follows parent_seq) among its versions in the current user''s conversation: sibling_index counts from 1, oldest first, and sibling_count is how many there are, the message itself counted also when the calling statement cannot see it.';

revoke all on function chat_private.sibling_position(uuid, bigint, bigint) from public;
grant execute on function chat_private.sibling_position(uuid, bigint, bigint) to chat_app;

commit;
