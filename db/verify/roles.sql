-- Verify chat:roles on pg
--
-- Both roles exist, cannot log in, and hold no power that defeats RLS.

begin;

do $$
begin
  if (select count(*)
        from pg_catalog.pg_roles
       where rolname in ('chat_app', 'chat_auditor')
         and not rolsuper and not rolbypassrls and not rolcanlogin
         and not rolcreaterole and not rolcreatedb) <> 2
  then
    raise exception 'roles chat_app and chat_auditor are missing or too powerful';
  end if;
end
$$;

rollback;
