-- Revert chat:provision_user from pg

begin;

drop function chat.provision_user(text);

commit;
