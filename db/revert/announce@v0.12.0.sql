-- Revert chat:announce from pg

begin;

drop trigger users_end_event_stream on chat.users;
drop trigger conversations_announce_update on chat.conversations;
drop trigger conversations_announce_insert_delete on chat.conversations;
drop trigger messages_announce on chat.messages;
drop function chat_private.end_event_stream();
drop function chat_private.announce();

commit;
