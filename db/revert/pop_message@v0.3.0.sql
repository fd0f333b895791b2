-- Revert chat:pop_message from pg

begin;

drop function chat.pop_message(uuid);

commit;
