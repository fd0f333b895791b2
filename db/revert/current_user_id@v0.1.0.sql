-- Revert chat:current_user_id from pg

begin;

drop function chat.require_user_id();
drop function chat.current_user_id();

commit;
