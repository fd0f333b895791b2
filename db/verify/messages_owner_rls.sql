-- Verify chat:messages_owner_rls on pg
--
-- The owner of the messages can see and remove them: by bypassing row
-- security, or through its own policies, all four of them.

begin;

select 1 / count(*)
  from pg_catalog.pg_roles r
 where r.oid = (select relowner from pg_catalog.pg_class where oid = 'chat.messages'::regclass)
   and (r.rolsuper or r.rolbypassrls
        or (select count(*) from pg_catalog.pg_policies p
             where p.schemaname = 'chat' and r.rolname = any(p.roles)
               and p.policyname in ('conversations_owner_remove_select', 'conversations_owner_remove_update',
                                    'messages_owner_remove_select', 'messages_owner_remove_delete')) = 4);

-- and chat_app still cannot delete a message
select 1 / (not pg_catalog.has_table_privilege('chat_app', 'chat.messages', 'delete'))::int;

rollback;
