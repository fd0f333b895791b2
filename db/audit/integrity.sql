-- Integrity check of the chat data, for auditors.
--
--   psql "$AUDITOR_URL" -v ON_ERROR_STOP=1 -f db/audit/integrity.sql
--
-- Prints every problem found, one row each, and exits non-zero (with
-- ON_ERROR_STOP) when there is any. Read-only: runs as a member of
-- chat_auditor, which reads every user's rows and can change nothing.
--
-- What must hold:
--   seq_gap         a conversation's messages are numbered 1..n, no gap, no duplicate
--   message_count   conversations.message_count is the number of its messages
--   foreign_user    a message's user is its conversation's user
--   orphan          every message belongs to an existing conversation
--   turn_message    a chat turn is a user's message
--   turn_reply      a chat turn's reply is an assistant message
--   parent          a message follows one of its own conversation, created before it
--   head            a conversation's head is one of its messages, NULL only when it has none
--   running_total   a message's tokens_before is the tokens of the messages before it on its path,
--                   and its stretch_from the first of the consecutive messages it ends

\set QUIET on
\pset footer off
begin transaction isolation level repeatable read read only;

\echo 'chat integrity check'
select count(*) as conversations, coalesce(sum(message_count), 0) as messages from chat.conversations;

\echo 'problems:'
select * from (
  with per_conversation as (
    select m.conversation_id, m.user_id,
           count(*) as messages,
           count(distinct m.seq) as distinct_seqs,
           min(m.seq) as first_seq,
           max(m.seq) as last_seq
      from chat.messages m
     group by m.conversation_id, m.user_id
  )
  select 'seq_gap' as problem, p.conversation_id, p.user_id,
         pg_catalog.format('%s messages numbered %s..%s with %s distinct seq',
                           p.messages, p.first_seq, p.last_seq, p.distinct_seqs) as detail
    from per_conversation p
   where p.first_seq <> 1 or p.last_seq <> p.messages or p.distinct_seqs <> p.messages
  union all
  select 'message_count', c.id, c.user_id,
         pg_catalog.format('message_count is %s, messages stored: %s', c.message_count, coalesce(p.messages, 0))
    from chat.conversations c
    left join (select conversation_id, sum(messages) as messages
                 from per_conversation group by conversation_id) p on p.conversation_id = c.id
   where c.message_count <> coalesce(p.messages, 0)
  union all
  select 'foreign_user', m.conversation_id, m.user_id,
         pg_catalog.format('message %s belongs to user %s, its conversation to user %s', m.id, m.user_id, c.user_id)
    from chat.messages m
    join chat.conversations c on c.id = m.conversation_id
   where c.user_id <> m.user_id
  union all
  select 'orphan', m.conversation_id, m.user_id,
         pg_catalog.format('message %s has no conversation', m.id)
    from chat.messages m
   where not exists (select from chat.conversations c where c.id = m.conversation_id)
  union all
  select 'turn_message', t.conversation_id, t.user_id,
         pg_catalog.format('the turn of message %s is a turn of a %s message', t.seq, m.role)
    from chat.turns t
    join chat.messages m on m.user_id = t.user_id and m.conversation_id = t.conversation_id and m.seq = t.seq
   where m.role <> 'user'
  union all
  select 'turn_reply', t.conversation_id, t.user_id,
         pg_catalog.format('the reply to message %s is message %s, a %s message', t.seq, t.reply_seq, r.role)
    from chat.turns t
    join chat.messages r on r.user_id = t.user_id and r.conversation_id = t.conversation_id and r.seq = t.reply_seq
   where r.role <> 'assistant'
  union all
  select 'parent', m.conversation_id, m.user_id,
         pg_catalog.format('message %s follows message %s, %s', m.seq, m.parent_seq,
                           case when p.seq is null then 'which is not in its conversation'
                                else 'which was created after it' end)
    from chat.messages m
    left join chat.messages p
      on p.user_id = m.user_id and p.conversation_id = m.conversation_id and p.seq = m.parent_seq
   where m.parent_seq is not null and (p.seq is null or p.seq >= m.seq)
  union all
  select 'head', c.id, c.user_id,
         case when c.head_seq is null then pg_catalog.format('no head, with %s messages', c.message_count)
              else pg_catalog.format('the head, message %s, is not in the conversation', c.head_seq) end
    from chat.conversations c
   where (c.head_seq is null and c.message_count > 0)
      or (c.head_seq is not null and not exists (
            select from chat.messages m
             where m.user_id = c.user_id and m.conversation_id = c.id and m.seq = c.head_seq))
  union all
  select 'running_total', m.conversation_id, m.user_id,
         pg_catalog.format('message %s: tokens_before %s and stretch_from %s, where its path says %s and %s',
                           m.seq, m.tokens_before, m.stretch_from,
                           coalesce(p.tokens_before + p.tokens, 0),
                           case when p.seq = m.seq - 1 then p.stretch_from else m.seq end)
    from chat.messages m
    left join chat.messages p
      on p.user_id = m.user_id and p.conversation_id = m.conversation_id and p.seq = m.parent_seq
   where m.tokens_before <> coalesce(p.tokens_before + p.tokens, 0)
      or m.stretch_from <> case when p.seq = m.seq - 1 then p.stretch_from else m.seq end
) problems
order by problem, conversation_id;

select :ROW_COUNT as problem_count, :ROW_COUNT > 0 as failed \gset
rollback;

\if :failed
  -- stop with an error, so that psql -v ON_ERROR_STOP=1 exits non-zero
  \echo 'integrity check FAILED:' :problem_count 'problem(s)'
  do $$ begin raise exception 'integrity check failed'; end $$;
\else
  \echo 'integrity check passed: no problem found'
\endif
