-- Deploy chat:users_rls to pg (reworked)
-- requires: users_rls@v0.5.0
-- requires: current_user_id
--
-- The same four policies, restated with the function's new name: current_user_id
-- moved to chat_private (change current_user_id), and the policies, which ask it
-- by oid, followed it already. Restated so that the script says what they ask.

begin;

alter policy users_select on chat.users
  using (id = chat_private.current_user_id());

alter policy users_insert on chat.users
  with check (id = chat_private.current_user_id());

alter policy users_update on chat.users
  using (id = chat_private.current_user_id())
  with check (id = chat_private.current_user_id());

alter policy users_delete on chat.users
  using (id = chat_private.current_user_id());

-- Each policy says in the catalog what it lets the runtime role do, for
-- auditors reading it with psql.
comment on policy users_select on chat.users is
  'chat_app sees only the current user''s own row: id = chat_private.current_user_id(), none when app.user_id is unset.';
comment on policy users_insert on chat.users is
  'chat_app inserts only rows whose id is the current user (chat_private.current_user_id()).';
comment on policy users_update on chat.users is
  'chat_app updates only the current user''s own row, and cannot hand a row to another user (id stays the current user''s).';
comment on policy users_delete on chat.users is
  'chat_app deletes only the current user''s own row (id = chat_private.current_user_id()).';

commit;
