-- Revert chat:message_summaries from pg

begin;

alter type chat.turn_part
  drop attribute replayed,
  drop attribute summary_through,
  drop attribute summary_from,
  add attribute replayed boolean;

alter type chat.appended_message
  drop attribute replayed,
  drop attribute summary_through,
  drop attribute summary_from,
  add attribute replayed boolean;

drop index chat.messages_summaries_idx;

alter table chat.messages
  drop constraint messages_summary_range,
  drop column summary_through,
  drop column summary_from;

commit;
