-- Revert chat:check_token from pg

begin;

drop function chat.check_token(timestamptz);

commit;
