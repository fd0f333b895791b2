-- Revert chat:turns_reply_key from pg

begin;

alter table chat.turns drop column reply_key;

commit;
