-- Revert chat:export_user_data from pg

begin;

drop function chat.export_user_data();

commit;
