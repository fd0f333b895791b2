-- Deploy chat:conversation_not_found to pg
-- requires: chat_schema
-- requires: roles
--
-- A conversation that is missing and one that is someone else's are the same
-- error, so that existence does not leak: P0002, 'conversation <id> not
-- found', as the Python layer answers 404 and the tests read it. Every
-- function that finds no conversation raises it by calling this one, so that
-- the error is written once and no function words it differently.

begin;

-- It only raises; it reads nothing, so it needs no rights of its own. Volatile,
-- not immutable: the planner folds an immutable call with constant arguments
-- while planning, so a call in a branch never taken would raise.
create function chat.conversation_not_found(conversation_id uuid)
returns void as $$
begin
  raise exception 'conversation % not found', conversation_not_found.conversation_id
    using errcode = 'P0002';
end
$$ language plpgsql volatile parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.conversation_not_found(uuid) is
  'The one error of a conversation that is missing or someone else''s: raises P0002, ''conversation <id> not found''. Every function that finds no conversation of the current user raises it through this one.';

revoke all on function chat.conversation_not_found(uuid) from public;
grant execute on function chat.conversation_not_found(uuid) to chat_app;

commit;
