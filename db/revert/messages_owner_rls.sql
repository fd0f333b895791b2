-- Revert chat:messages_owner_rls from pg
--
-- The owner's own policies, where the deploy made them.

begin;

do $$
declare
  p record;
begin
  for p in select tablename, policyname from pg_catalog.pg_policies
            where schemaname = 'chat'
              and policyname in ('conversations_owner_remove_select', 'conversations_owner_remove_update',
                                 'messages_owner_remove_select', 'messages_owner_remove_delete')
            order by tablename, policyname
  loop
    execute pg_catalog.format('drop policy %I on chat.%I', p.policyname, p.tablename);
  end loop;
end
$$;

commit;
