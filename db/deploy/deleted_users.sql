-- Deploy chat:deleted_users to pg
-- requires: users_rls
--
-- A deleted account must stay deleted for the tokens issued before its
-- deletion: they are still valid until they expire, and without a trace of
-- the deletion the next request with one would provision the user again.
-- A tombstone is that trace: the user's id and when the account was deleted,
-- nothing personal. It is kept until no token issued before the deletion
-- can be valid any more; then operators purge it (purge_deleted_users).

begin;

create table chat.deleted_users (
  user_id    uuid primary key,
  deleted_at timestamptz not null default pg_catalog.now()
);

alter table chat.deleted_users enable row level security;
alter table chat.deleted_users force row level security;

comment on table chat.deleted_users is
  'Tombstones of deleted accounts: the user id and the time of deletion, no personal data. A token issued before deleted_at is refused (check_token); purged once no such token can be valid (purge_deleted_users).';
comment on column chat.deleted_users.user_id is
  'The deleted user''s id (the sub of their tokens); no foreign key: the user''s row is gone.';
comment on column chat.deleted_users.deleted_at is
  'When the account was last deleted; tokens issued at or before it are refused.';

-- One policy per command for the runtime role: a user reads and writes only
-- their own tombstone (delete_user writes it; a second deletion, after the
-- account came back with a newer token, moves deleted_at). chat_app holds no
-- delete privilege: only the operators' purge removes a tombstone. The
-- auditor reads all.
create policy deleted_users_select on chat.deleted_users
  for select to chat_app
  using (user_id = chat.current_user_id());

create policy deleted_users_insert on chat.deleted_users
  for insert to chat_app
  with check (user_id = chat.current_user_id());

create policy deleted_users_update on chat.deleted_users
  for update to chat_app
  using (user_id = chat.current_user_id())
  with check (user_id = chat.current_user_id());

create policy deleted_users_delete on chat.deleted_users
  for delete to chat_app
  using (user_id = chat.current_user_id());

create policy deleted_users_audit on chat.deleted_users
  for select to chat_auditor
  using (true);

grant select, insert on chat.deleted_users to chat_app;
grant update (deleted_at) on chat.deleted_users to chat_app;
grant select on chat.deleted_users to chat_auditor;

commit;
