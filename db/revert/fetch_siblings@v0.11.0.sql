-- Revert chat:fetch_siblings from pg

begin;

drop function chat.fetch_siblings(uuid, bigint);

commit;
