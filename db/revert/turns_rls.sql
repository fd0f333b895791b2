-- Revert chat:turns_rls from pg

begin;

drop policy turns_audit on chat.turns;
drop policy turns_delete on chat.turns;
drop policy turns_update on chat.turns;
drop policy turns_insert on chat.turns;
drop policy turns_select on chat.turns;

commit;
