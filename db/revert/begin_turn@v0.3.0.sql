-- Revert chat:begin_turn from pg

begin;

drop function chat.begin_turn(uuid, text, text, integer, interval);
drop type chat.turn_part;

commit;
