-- Revert chat:fetch_log from pg

begin;

drop function chat.fetch_log(uuid, bigint, integer);

commit;
