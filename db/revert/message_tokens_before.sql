-- Revert chat:message_tokens_before from pg

begin;

alter type chat.turn_part
  drop attribute replayed,
  drop attribute tokens_before,
  add attribute replayed boolean;

alter type chat.appended_message
  drop attribute replayed,
  drop attribute tokens_before,
  add attribute replayed boolean;

drop trigger messages_tokens_before on chat.messages;
drop function chat_private.messages_tokens_before();
drop index chat.messages_tokens_before_idx;
alter table chat.messages drop column tokens_before;

commit;
