-- Revert chat:fetch_context from pg

begin;

drop function chat.fetch_context(uuid, integer, integer, bigint);
drop type chat.context_message;

commit;
