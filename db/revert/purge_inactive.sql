-- Revert chat:purge_inactive from pg (reworked)
--
-- Back to the purge of v0.1.0: with the caller's rights, chat_operator
-- seeing and deleting conversations through its own privileges and policies.

begin;

-- the owner's own policies, where the deploy made them
do $$
declare
  p record;
begin
  for p in select policyname from pg_catalog.pg_policies
            where schemaname = 'chat' and tablename = 'conversations'
              and policyname in ('conversations_owner_purge_delete', 'conversations_owner_purge_select')
            order by policyname
  loop
    execute pg_catalog.format('drop policy %I on chat.conversations', p.policyname);
  end loop;
end
$$;

grant select, delete on chat.conversations to chat_operator;

create policy conversations_purge_select on chat.conversations
  for select to chat_operator
  using (true);

create policy conversations_purge_delete on chat.conversations
  for delete to chat_operator
  using (true);

create or replace function chat.purge_inactive(older_than interval, batch_size integer default 1000)
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
