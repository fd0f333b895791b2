-- Deploy chat:purge_inactive to pg
-- requires: operator_role
-- requires: conversations_rls
-- requires: messages
--
-- Retention for operators: delete conversations (their messages by cascade)
-- with no activity for a given time. A function runs in one transaction, so
-- one call deletes one batch and returns how many; a job calls it again
-- until it returns 0 (make purge does), each batch committed on its own, so
-- that locks stay short and a long purge never holds the table.
--
-- Callable by chat_operator only, never by chat_app: the caller's rights
-- decide (security invoker), through policies that let the operator see and
-- delete conversations, and nothing of messages but what the cascade takes.

begin;

-- what the operator may touch, and only for this
grant select, delete on chat.conversations to chat_operator;

create policy conversations_purge_select on chat.conversations
  for select to chat_operator
  using (true);

create policy conversations_purge_delete on chat.conversations
  for delete to chat_operator
  using (true);

create function chat.purge_inactive(older_than interval, batch_size integer default 1000)
returns bigint as $$
declare
  v_cutoff timestamptz := pg_catalog.now() - purge_inactive.older_than;
  v_deleted bigint;
begin
  if purge_inactive.older_than is null or purge_inactive.older_than <= interval '0' then
    raise exception 'older_than must be a positive interval, not %', coalesce(purge_inactive.older_than::text, 'NULL')
      using errcode = '22023', column = 'older_than';
  end if;
  if purge_inactive.batch_size is null or purge_inactive.batch_size not between 1 and 100000 then
    raise exception 'batch_size must be between 1 and 100000, not %', coalesce(purge_inactive.batch_size::text, 'NULL')
      using errcode = '22023', column = 'batch_size';
  end if;

  -- the oldest first; a conversation that an append touched meanwhile is
  -- checked again when the delete reaches it (after waiting for the append's
  -- lock) and kept, for it is no longer inactive
  with doomed as (
    select c.user_id, c.id
      from chat.conversations c
     where c.updated_at < v_cutoff
     order by c.updated_at
     limit purge_inactive.batch_size
  )
  delete from chat.conversations c
   using doomed d
   where c.user_id = d.user_id and c.id = d.id
     and c.updated_at < v_cutoff;

  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.purge_inactive(interval, integer) is
  'Operators only: deletes at most batch_size (1..100000) conversations, with their messages, inactive for longer than older_than; returns how many. Call until it returns 0.';
comment on policy conversations_purge_select on chat.conversations is
  'chat_operator finds inactive conversations of every user (purge_inactive).';
comment on policy conversations_purge_delete on chat.conversations is
  'chat_operator deletes inactive conversations of every user (purge_inactive).';

revoke all on function chat.purge_inactive(interval, integer) from public;
grant execute on function chat.purge_inactive(interval, integer) to chat_operator;

commit;
