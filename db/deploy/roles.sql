-- Deploy chat:roles to pg
--
-- Roles are cluster-wide while this plan is deployed per database, so several
-- databases of one cluster share them: create (and describe) each role only
-- when it is missing, and tolerate a concurrent deploy creating it at the same
-- moment. A role made by an earlier deploy is left as it is, whoever made it.

begin;

-- chat_app: the backend's runtime role. A group role (nologin); the service
-- logs in as a role created in SQL and granted chat_app, never as the owner.
-- Stated explicitly: no superuser, no bypassrls, no createrole, no createdb.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'chat_app') then
    create role chat_app nologin nosuperuser nocreatedb nocreaterole nobypassrls;
    comment on role chat_app is
      'Runtime role of the chat backend: reads and writes only the current user''s rows (app.user_id), through RLS.';
  end if;
exception
  when duplicate_object or unique_violation then null; -- a concurrent deploy won the race
end
$$;

-- chat_auditor: read-only access to every user's rows, for psql audits.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'chat_auditor') then
    create role chat_auditor nologin nosuperuser nocreatedb nocreaterole nobypassrls;
    comment on role chat_auditor is
      'Read-only auditor: can read every user''s chat rows, can change nothing.';
  end if;
exception
  when duplicate_object or unique_violation then null;
end
$$;

-- A role that already existed must still be safe: refuse to deploy over one
-- that was given powers that defeat row-level security.
do $$
declare
  r record;
begin
  for r in
    select rolname from pg_catalog.pg_roles
     where rolname in ('chat_app', 'chat_auditor')
       and (rolsuper or rolbypassrls or rolcanlogin or rolcreaterole or rolcreatedb)
  loop
    raise exception 'role % exists with superuser, bypassrls, login, createrole or createdb', r.rolname
      using errcode = '42501',
            hint = 'alter role ' || r.rolname || ' nosuperuser nobypassrls nologin nocreaterole nocreatedb';
  end loop;
end
$$;

commit;
