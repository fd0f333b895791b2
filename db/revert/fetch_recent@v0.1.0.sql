-- Revert chat:fetch_recent from pg

begin;

drop function chat.fetch_recent(uuid, integer);

commit;
