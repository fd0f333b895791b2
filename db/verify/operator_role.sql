-- Verify chat:operator_role on pg

begin;

do $$
begin
  if not exists (select from pg_catalog.pg_roles
                  where rolname = 'chat_operator'
                    and not rolsuper and not rolbypassrls and not rolcanlogin
                    and not rolcreaterole and not rolcreatedb) then
    raise exception 'role chat_operator is missing or too powerful';
  end if;
end
$$;

select 1 / pg_catalog.has_schema_privilege('chat_operator', 'chat', 'usage')::int;

rollback;
