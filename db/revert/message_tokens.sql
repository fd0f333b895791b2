-- Revert chat:message_tokens from pg

begin;

alter type chat.turn_part
  drop attribute replayed,
  drop attribute tokens,
  drop attribute tokens_given,
  add attribute replayed boolean;

alter type chat.appended_message
  drop attribute replayed,
  drop attribute tokens,
  drop attribute tokens_given,
  add attribute replayed boolean;

drop trigger messages_estimate_tokens on chat.messages;
drop function chat_private.messages_estimate_tokens();

alter table chat.messages
  drop column tokens,
  drop column tokens_given;

drop domain chat.token_count;
drop function chat_private.tokens_problem(bigint);
drop function chat_private.estimated_tokens(text, jsonb);

commit;
