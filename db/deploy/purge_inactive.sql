-- Deploy chat:purge_inactive to pg (reworked)
-- requires: purge_inactive@v0.1.0
-- requires: conversations_activity_index
--
-- Retention for operators, as before: one call deletes one batch of the
-- conversations with no activity for older_than (their messages by cascade)
-- and returns how many; a job calls it until it returns 0 (make purge does).
--
-- What changes is whose rights it runs with. As the caller's, chat_operator
-- needed select and delete on conversations and policies to see every row:
-- then a login granted it could read every title (the user's first words,
-- for a conversation the chat turn opened) and delete every conversation
-- with no cutoff, and one granted chat_app too saw every user's
-- conversations. Now the function runs with its owner's rights and
-- chat_operator holds no privilege on any table: it can run the purge, with
-- its checked arguments, and nothing else.
--
-- Owner's rights never rely on row security here: the purge is meant to
-- reach every user's conversations, and its only filter is the cutoff.

begin;

-- chat_operator's own access goes
drop policy conversations_purge_delete on chat.conversations;
drop policy conversations_purge_select on chat.conversations;
revoke select, delete on chat.conversations from chat_operator;

-- The oldest first, from conversations_activity_idx, and then those very rows
-- by their physical address (a TID scan): each batch reads as many index
-- entries and rows as it deletes, however many more are waiting. (Joined
-- back by key instead, the planner may read every inactive conversation per
-- batch.) A conversation that an append touches meanwhile is checked again
-- when the delete reaches it, after waiting for the append's lock on the row,
-- and kept: it is no longer inactive, and its new version has another
-- address anyway.
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

  delete from chat.conversations c
   where c.ctid = any (array(
           select o.ctid
             from chat.conversations o
            where o.updated_at < v_cutoff
            order by o.updated_at
            limit purge_inactive.batch_size))
     and c.updated_at < v_cutoff;

  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat.purge_inactive(interval, integer) is
  'Operators only: deletes at most batch_size (1..100000) conversations, with their messages, inactive for longer than older_than, the oldest first; returns how many. Call until it returns 0. Runs with its owner''s rights: its callers need no privilege on any table.';

-- An owner that does not bypass row security (a plain owner on a self-hosted
-- server: FORCE applies to it) would find no conversation with its own
-- rights. There it gets the two policies the purge needs, for itself alone:
-- it owns the table, so they let it do nothing it could not do already.
do $$
begin
  if not exists (select from pg_catalog.pg_roles
                  where rolname = current_user and (rolsuper or rolbypassrls)) then
    execute pg_catalog.format(
      'create policy conversations_owner_purge_select on chat.conversations for select to %I using (true)',
      current_user);
    execute pg_catalog.format(
      'create policy conversations_owner_purge_delete on chat.conversations for delete to %I using (true)',
      current_user);
    comment on policy conversations_owner_purge_select on chat.conversations is
      'purge_inactive, running with the rights of an owner that does not bypass row security, finds inactive conversations of every user.';
    comment on policy conversations_owner_purge_delete on chat.conversations is
      'purge_inactive, running with the rights of an owner that does not bypass row security, deletes inactive conversations of every user.';
  end if;
end
$$;

-- still chat_operator's alone (create or replace kept the grants; said again, as the contract)
revoke all on function chat.purge_inactive(interval, integer) from public;
grant execute on function chat.purge_inactive(interval, integer) to chat_operator;

commit;
