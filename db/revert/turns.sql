-- Revert chat:turns from pg

begin;

drop table chat.turns;

commit;
