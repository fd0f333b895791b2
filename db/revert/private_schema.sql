-- Revert chat:private_schema from pg

begin;

drop schema chat_private;

commit;
