-- Adopting a Phase II database, step 2 of 3: after `sqitch deploy --to tasks`
-- made chat.users and chat.tasks, the Phase II rows go into them, in one
-- transaction, and it commits only when every row arrived.
--
-- Phase II timestamps without a time zone are read as UTC (what an ORM
-- storing datetime.utcnow() meant). The tables' row security is forced, and
-- no policy is the owner's: for the copy, and inside this transaction only,
-- it is not forced on the owner.

\set ON_ERROR_STOP on
begin;

set local timezone = 'UTC';

alter table chat.users no force row level security;
alter table chat.tasks no force row level security;

insert into chat.users (id, email, display_name, created_at)
select id, email, display_name, coalesce(created_at::timestamptz, pg_catalog.now())
  from chat_phase2.users;

insert into chat.tasks (id, user_id, title, description, completed, created_at, updated_at)
select id, user_id, title, description, completed,
       coalesce(created_at::timestamptz, pg_catalog.now()), coalesce(updated_at::timestamptz, created_at::timestamptz, pg_catalog.now())
  from chat_phase2.tasks;

alter table chat.users force row level security;
alter table chat.tasks force row level security;

do $$
begin
  if (select count(*) from chat.users) <> (select count(*) from chat_phase2.users)
     or (select count(*) from chat.tasks) <> (select count(*) from chat_phase2.tasks) then
    raise exception 'rows missing after the copy: nothing is committed';
  end if;
end
$$;

comment on schema chat_phase2 is
  'copied into chat by db/adopt/copy_rows.sql: the todo app''s Phase II tables, kept until they are dropped';

select format('copied: %s users and %s tasks; the Phase II tables stay in schema chat_phase2 until you drop it',
              (select count(*) from chat.users), (select count(*) from chat.tasks)) as adopt \gset
\echo :adopt

commit;
