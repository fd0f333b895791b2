-- Revert chat:conversation_not_found from pg (reworked)
--
-- Back to chat.conversation_not_found, as v0.5.0 had it.

begin;

create or replace function chat_private.raise_conversation_not_found(conversation_id uuid)
returns void as $$
begin
  raise exception 'conversation % not found', conversation_not_found.conversation_id
    using errcode = 'P0002';
end
$$ language plpgsql volatile parallel safe security invoker set search_path = pg_catalog, pg_temp;

alter function chat_private.raise_conversation_not_found(uuid) rename to conversation_not_found;
alter function chat_private.conversation_not_found(uuid) set schema chat;

commit;
