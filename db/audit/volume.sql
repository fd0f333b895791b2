-- Volume per user, for auditors: who stores how much.
--
--   psql "$AUDITOR_URL" -v ON_ERROR_STOP=1 -f db/audit/volume.sql [-v top=50]
--
-- One row per user, the largest first: conversations, messages, characters
-- and bytes of content, metadata bytes, tasks, last activity. Read-only, as a
-- member of chat_auditor.

\set QUIET on
\pset footer off
\if :{?top}
\else
  \set top 50
\endif
begin transaction isolation level repeatable read read only;

\echo 'chat volume per user (largest first, at most' :top 'users)'
select u.id as user_id,
       coalesce(c.conversations, 0) as conversations,
       coalesce(m.messages, 0) as messages,
       coalesce(m.content_chars, 0) as content_chars,
       pg_size_pretty(coalesce(m.content_bytes, 0)) as content_size,
       pg_size_pretty(coalesce(m.metadata_bytes, 0)) as metadata_size,
       coalesce(t.tasks, 0) as tasks,
       c.last_activity
  from chat.users u
  left join (select user_id, count(*) as conversations, max(updated_at) as last_activity
               from chat.conversations group by user_id) c on c.user_id = u.id
  left join (select user_id, count(*) as messages, sum(char_length(content)) as content_chars,
                    sum(octet_length(content)) as content_bytes, sum(octet_length(metadata::text)) as metadata_bytes
               from chat.messages group by user_id) m on m.user_id = u.id
  left join (select user_id, count(*) as tasks from chat.tasks group by user_id) t on t.user_id = u.id
 order by coalesce(m.content_bytes, 0) desc, coalesce(m.messages, 0) desc, u.id
 limit :top;

\echo 'totals'
select (select count(*) from chat.users) as users,
       (select count(*) from chat.conversations) as conversations,
       (select count(*) from chat.messages) as messages,
       (select count(*) from chat.tasks) as tasks,
       (select count(*) from chat.deleted_users) as deleted_accounts,
       pg_size_pretty(pg_total_relation_size('chat.messages')) as messages_on_disk;

commit;
