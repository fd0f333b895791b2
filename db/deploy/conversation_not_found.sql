-- Deploy chat:conversation_not_found to pg (reworked)
-- requires: conversation_not_found@v0.5.0
-- requires: private_schema
--
-- The one not-found error of a conversation, raised as before; a helper, not
-- the API, it moves to chat_private, named as what it does: raise_* always
-- raises (as check_* raises when a value is refused, and *_problem says what
-- is wrong). The functions that raise it are reworked to name it.

begin;

alter function chat.conversation_not_found(uuid) set schema chat_private;
alter function chat_private.conversation_not_found(uuid) rename to raise_conversation_not_found;

create or replace function chat_private.raise_conversation_not_found(conversation_id uuid)
returns void as $$
begin
  raise exception 'conversation % not found', raise_conversation_not_found.conversation_id
    using errcode = 'P0002';
end
$$ language plpgsql volatile parallel safe security invoker set search_path = pg_catalog, pg_temp;

commit;
