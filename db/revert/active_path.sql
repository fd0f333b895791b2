-- Revert chat:active_path from pg

begin;

drop function chat_private.stretch_end(uuid, bigint);
drop function chat_private.path_ranges(uuid, bigint, bigint, bigint);
drop index chat.messages_forks_idx;

commit;
