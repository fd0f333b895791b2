-- Revert chat:settle_turn from pg

begin;

drop function chat.settle_turn(uuid, bigint, bigint);

commit;
