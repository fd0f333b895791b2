-- Recent activity, for auditors: how much was written, when, and where.
--
--   psql "$AUDITOR_URL" -v ON_ERROR_STOP=1 -f db/audit/activity.sql [-v days=7]
--
-- Messages per day and role over the last :days days, and the most recently
-- active conversations. Read-only, as a member of chat_auditor.

\set QUIET on
\pset footer off
\if :{?days}
\else
  \set days 7
\endif
begin transaction isolation level repeatable read read only;

\echo 'messages per day over the last' :days 'days'
select date_trunc('day', m.created_at) as day,
       count(*) as messages,
       count(*) filter (where m.role = 'user') as from_users,
       count(*) filter (where m.role = 'assistant') as from_assistant,
       count(*) filter (where m.role in ('system', 'tool')) as system_or_tool,
       count(distinct m.user_id) as users,
       count(distinct m.conversation_id) as conversations
  from chat.messages m
 where m.created_at >= now() - make_interval(days => :days)
 group by 1
 order by 1 desc;

\echo 'most recently active conversations'
select c.updated_at as last_activity, c.user_id, c.id as conversation_id, c.message_count,
       c.created_at
  from chat.conversations c
 order by c.updated_at desc, c.id desc
 limit 20;

commit;
