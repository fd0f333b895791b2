-- Revert chat:lock_turn from pg

begin;

drop function chat.lock_turn(uuid, bigint);

commit;
