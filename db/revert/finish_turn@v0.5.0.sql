-- Revert chat:finish_turn from pg

begin;

drop function chat.finish_turn(uuid, bigint, text, jsonb);

commit;
