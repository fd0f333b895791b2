-- Revert chat:operator_role from pg
--
-- Dropped only when no other database of the cluster still depends on it.

begin;

revoke usage on schema chat from chat_operator;

do $$
begin
  if not exists (
    select
      from pg_catalog.pg_shdepend d
      join pg_catalog.pg_roles r on r.oid = d.refobjid
     where d.refclassid = 'pg_catalog.pg_authid'::regclass
       and r.rolname = 'chat_operator'
       and d.dbid <> (select oid from pg_catalog.pg_database where datname = current_database())
  ) then
    drop role chat_operator;
  end if;
end
$$;

commit;
