-- Revert chat:search_messages from pg

begin;

drop function chat.search_messages(text, integer);
drop function chat.search_message_hits(tsquery, integer);

commit;
