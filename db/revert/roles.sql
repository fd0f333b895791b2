-- Revert chat:roles from pg
--
-- Roles are shared by every database of the cluster that deploys this plan:
-- drop one only when no other database still depends on it (grants, ownership
-- and policies are recorded in pg_shdepend). This database's own grants are
-- gone by now: the changes that made them were reverted first.

begin;

do $$
declare
  role_name text;
begin
  foreach role_name in array array['chat_auditor', 'chat_app'] loop
    if exists (select from pg_catalog.pg_roles where rolname = role_name)
       and not exists (
         select
           from pg_catalog.pg_shdepend d
           join pg_catalog.pg_roles r on r.oid = d.refobjid
          where d.refclassid = 'pg_catalog.pg_authid'::regclass
            and r.rolname = role_name
            and d.dbid <> (select oid from pg_catalog.pg_database where datname = current_database())
       )
    then
      execute format('drop role %I', role_name);
    end if;
  end loop;
end
$$;

commit;
