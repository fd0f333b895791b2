-- Deploy chat:conversations_activity_index to pg
-- requires: conversations
--
-- The purge looks for the conversations inactive the longest, of every user.
-- conversations_user_activity_idx orders each user's conversations, not all
-- of them: without this index every batch of the purge would scan the whole
-- table and sort it. Built in the deploy's transaction (CREATE INDEX
-- CONCURRENTLY cannot run in one), so appends wait while it is built: a few
-- seconds for millions of conversations.

begin;

create index conversations_activity_idx on chat.conversations (updated_at);

comment on index chat.conversations_activity_idx is
  'purge_inactive: every user''s conversations by last activity, the oldest first.';

commit;
