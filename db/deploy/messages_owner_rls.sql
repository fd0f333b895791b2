-- Deploy chat:messages_owner_rls to pg
-- requires: conversations_rls
-- requires: messages_rls
--
-- chat_app may not delete a message: a message removed by hand would leave a
-- gap in seq and a wrong message_count. pop_message and clear_conversation
-- remove them, keeping both right, and run with their owner's rights to do
-- it. On Neon the owner bypasses row security. An owner that does not (a
-- plain owner on a self-hosted server, where FORCE applies to it) would see
-- no row with its own rights: there it gets the policies those functions
-- need, for itself alone. It owns the tables, so they let it do nothing it
-- could not do already; the functions filter by the current user
-- themselves, and never rely on these policies to do it.

begin;

do $$
begin
  if not exists (select from pg_catalog.pg_roles
                  where rolname = current_user and (rolsuper or rolbypassrls)) then
    execute pg_catalog.format(
      'create policy conversations_owner_remove_select on chat.conversations for select to %I using (true)',
      current_user);
    execute pg_catalog.format(
      'create policy conversations_owner_remove_update on chat.conversations for update to %I using (true) with check (true)',
      current_user);
    execute pg_catalog.format(
      'create policy messages_owner_remove_select on chat.messages for select to %I using (true)',
      current_user);
    execute pg_catalog.format(
      'create policy messages_owner_remove_delete on chat.messages for delete to %I using (true)',
      current_user);
    comment on policy conversations_owner_remove_select on chat.conversations is
      'pop_message and clear_conversation, running with the rights of an owner that does not bypass row security, find the conversation.';
    comment on policy conversations_owner_remove_update on chat.conversations is
      'pop_message and clear_conversation, running with the rights of an owner that does not bypass row security, lock the conversation and set its message_count.';
    comment on policy messages_owner_remove_select on chat.messages is
      'pop_message and clear_conversation, running with the rights of an owner that does not bypass row security, find the messages to remove.';
    comment on policy messages_owner_remove_delete on chat.messages is
      'pop_message and clear_conversation, running with the rights of an owner that does not bypass row security, remove messages.';
  end if;
end
$$;

commit;
