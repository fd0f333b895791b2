-- Revert chat:conversations_activity_index from pg

begin;

drop index chat.conversations_activity_idx;

commit;
