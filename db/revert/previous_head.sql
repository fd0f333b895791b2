-- Revert chat:previous_head from pg

begin;

alter table chat.conversations drop column previous_head_seq;

commit;
