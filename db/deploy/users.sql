-- Deploy chat:users to pg
-- requires: current_user_id
--
-- The todo app's users (the Phase II baseline). A user is provisioned by the
-- backend inserting its own row (id = the current user) on first use.

begin;

create table chat.users (
  id           uuid primary key,
  email        text unique
               constraint users_email_format check (
                 pg_catalog.char_length(email) <= 320 and email ~ '^[^@[:space:]]+@[^@[:space:]]+$'
               ),
  display_name text
               constraint users_display_name_length check (pg_catalog.char_length(display_name) <= 200),
  created_at   timestamptz not null default pg_catalog.now()
);

-- Born closed: RLS is enabled and forced before any grant, and no policy
-- exists until users_rls, so no role but a BYPASSRLS one sees a row.
alter table chat.users enable row level security;
alter table chat.users force row level security;

comment on table chat.users is
  'The todo app''s users. Each user sees only their own row (RLS on app.user_id).';
comment on column chat.users.id is
  'The user''s id, as the sub claim of their token; the value of app.user_id.';
comment on column chat.users.email is
  'Email address, unique across users; NULL when unknown.';
comment on column chat.users.display_name is
  'Name to show, at most 200 characters.';

grant select, insert, delete on chat.users to chat_app;
grant update (email, display_name) on chat.users to chat_app;
grant select on chat.users to chat_auditor;

commit;
