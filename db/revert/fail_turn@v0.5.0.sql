-- Revert chat:fail_turn from pg

begin;

drop function chat.fail_turn(uuid, bigint, uuid);

commit;
