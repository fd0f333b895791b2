-- Verify chat:compact_messages on pg (reworked)

begin;

select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.compact_messages(uuid, bigint, jsonb, uuid)'::regprocedure
   and prorettype = 'chat.messages'::regtype and proretset and not prosecdef
   and prosrc like '%chat_private.check_message_element(%'
   and prosrc like '%for update%';

select 1 / pg_catalog.has_function_privilege('chat_app', 'chat.compact_messages(uuid, bigint, jsonb, uuid)', 'execute')::int;
select 1 / (not pg_catalog.has_function_privilege('public', 'chat.compact_messages(uuid, bigint, jsonb, uuid)', 'execute'))::int;

-- after the conversation's head, which it moves
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.compact_messages(uuid, bigint, jsonb, uuid)'::regprocedure
   and prosrc like '%parent_seq%'
   and prosrc like '%head_seq = %';

-- the view along the path
select 1 / count(*) from pg_catalog.pg_proc
 where oid = 'chat.compact_messages(uuid, bigint, jsonb, uuid)'::regprocedure
   and prosrc like '%chat_private.view_before(%' and prosrc like '%v_start.parent_seq = v_start.summary_through%';

rollback;
