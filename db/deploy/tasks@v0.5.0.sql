-- Deploy chat:tasks to pg
-- requires: users
--
-- The todo app's tasks (Phase II baseline), kept working under the same
-- isolation as the chat. The backend reads and writes them directly; RLS
-- decides which rows. Keyed by (user_id, id), like every table of a user's
-- data, so that the schema can be distributed by user without changing shape.

begin;

create table chat.tasks (
  id          uuid not null default pg_catalog.gen_random_uuid(),
  user_id     uuid not null default chat.current_user_id()
              references chat.users (id) on delete cascade,
  title       text not null
              constraint tasks_title_length check (pg_catalog.char_length(title) between 1 and 200),
  description text
              constraint tasks_description_length check (pg_catalog.char_length(description) <= 10000),
  completed   boolean not null default false,
  created_at  timestamptz not null default pg_catalog.now(),
  updated_at  timestamptz not null default pg_catalog.now(),
  primary key (user_id, id)
);

alter table chat.tasks enable row level security;
alter table chat.tasks force row level security;

-- The task list of one user, newest first, is the common read.
create index tasks_user_created_idx on chat.tasks (user_id, created_at);

comment on table chat.tasks is
  'The todo app''s tasks. Each user sees and changes only their own (RLS on app.user_id).';
comment on column chat.tasks.user_id is
  'Owner of the task; defaults to the current user.';
comment on column chat.tasks.updated_at is
  'Time of the last change, kept by a trigger.';

-- updated_at follows every change, whoever makes it.
create function chat.tasks_touch_updated_at() returns trigger as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.tasks_touch_updated_at() is
  'Trigger: sets tasks.updated_at to the transaction time on every update.';

revoke all on function chat.tasks_touch_updated_at() from public;

create trigger tasks_touch_updated_at
  before update on chat.tasks
  for each row execute function chat.tasks_touch_updated_at();

grant select, insert, delete on chat.tasks to chat_app;
grant update (title, description, completed) on chat.tasks to chat_app;
grant select on chat.tasks to chat_auditor;

commit;
