-- Revert chat:stretch_end_without_sort from pg

begin;

alter function chat_private.stretch_end(uuid, bigint) reset enable_sort;

commit;
