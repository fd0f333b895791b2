-- Revert chat:sibling_position from pg

begin;

drop function chat_private.sibling_position(uuid, bigint, bigint);

commit;
