-- Revert chat:check_metadata from pg

begin;

drop function chat.check_metadata(jsonb, integer, text);

commit;
