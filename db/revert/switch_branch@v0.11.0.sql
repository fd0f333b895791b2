-- Revert chat:switch_branch from pg

begin;

drop function chat.switch_branch(uuid, bigint);

commit;
