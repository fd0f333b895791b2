-- Deploy chat:tokens_before_index to pg
-- requires: message_parents
--
-- The budget's index leads with the stretch. Led by (user_id,
-- conversation_id) and ending with seq, it could serve any lookup of a
-- message by its seq, reading every entry of the conversation to find one;
-- a generic plan, for which a conversation holds a few messages on average,
-- took it for that (an index-only scan, since it holds stretch_from too),
-- and a path across stretches cost 40 times the branch-free one. Led by
-- stretch_from it serves only what it is for, the budget's cut within a
-- stretch (and a stretch's end); a lookup by seq goes to the seq key.

begin;

drop index chat.messages_tokens_before_idx;
create index messages_tokens_before_idx on chat.messages (stretch_from, user_id, conversation_id, tokens_before, seq);

comment on index chat.messages_tokens_before_idx is
  'The budget''s index: within a stretch (stretch_from first, so that no lookup by seq takes it), the running total of tokens grows with seq; the cut of a token budget is one probe, and so is a stretch''s end.';

commit;
