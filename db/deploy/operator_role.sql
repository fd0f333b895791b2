-- Deploy chat:operator_role to pg
-- requires: roles
--
-- chat_operator: the group role of operators' maintenance jobs (purging
-- inactive conversations). Like the other roles it is cluster-wide, created
-- only when missing, and never powerful: it gets exactly the privileges and
-- policies its jobs need, nothing that reads messages.

begin;

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'chat_operator') then
    create role chat_operator nologin nosuperuser nocreatedb nocreaterole nobypassrls;
    comment on role chat_operator is
      'Operators'' maintenance jobs of the chat (purge_inactive); no runtime access to messages.';
  end if;
exception
  when duplicate_object or unique_violation then null; -- a concurrent deploy won the race
end
$$;

do $$
begin
  if exists (select from pg_catalog.pg_roles
              where rolname = 'chat_operator'
                and (rolsuper or rolbypassrls or rolcanlogin or rolcreaterole or rolcreatedb)) then
    raise exception 'role chat_operator exists with superuser, bypassrls, login, createrole or createdb'
      using errcode = '42501',
            hint = 'alter role chat_operator nosuperuser nobypassrls nologin nocreaterole nocreatedb';
  end if;
end
$$;

grant usage on schema chat to chat_operator;

commit;
