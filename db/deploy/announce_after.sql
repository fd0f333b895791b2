-- Deploy chat:announce_after to pg
-- requires: events
--
-- Which change of a user to announce was decided from the time since their
-- change before it, read back from the log in every logged write, and the
-- service read the log at a pace tied to that pause. The readers know
-- better: a stream stops reading the log when a read finds nothing after the
-- last event it sent, and then waits for an announcement. So the lease keeps
-- where the user's log stood when a read found nothing more (announce_after):
-- the next change is announced, and clears it. A write reads nothing more
-- than the lease it probes already, and no timing ties writers to readers.

begin;

alter table chat_private.event_streams add column announce_after bigint;

comment on column chat_private.event_streams.announce_after is
  'The user''s newest event when a read of their log last found nothing after it (chat.read_events, chat.open_event_stream): their streams have every event and wait for the next to be announced. The next change is announced, with this as the event before it, and sets it back to NULL: the streams read the rest of a burst from the log.';

-- The leases open now: their streams hear their next change.
update chat_private.event_streams s
   set announce_after = (select e.id from chat.events e where e.user_id = s.user_id order by e.id desc limit 1);

-- A reader that found nothing after after_id in the current user's log says
-- so. It takes the writers' lock (shared: readers do not wait for each other)
-- and sets announce_after only when after_id is still the newest event, so
-- that a change committed after the reader's read and before this call is
-- not left unannounced; a caller that took the lock before its read holds it
-- already. With its owner's rights: no client writes a lease, and it writes
-- the current user's only.
create function chat_private.await_announcement(after_id bigint) returns void as $$
  select pg_catalog.pg_advisory_xact_lock_shared(1667785076, pg_catalog.uuid_hash(chat_private.current_user_id()));

  update chat_private.event_streams s
     set announce_after = newest.id
    from (select e.id
            from chat.events e
           where e.user_id = chat_private.current_user_id()
           order by e.id desc
           limit 1) newest
   where s.user_id = chat_private.current_user_id()
     and newest.id = await_announcement.after_id
     and s.announce_after is distinct from newest.id;
$$ language sql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat_private.await_announcement(bigint) is
  'Called by a read of the current user''s log that found nothing after after_id: when after_id is their newest event (checked under the writers'' lock, shared), their next change is announced (event_streams.announce_after).';

revoke all on function chat_private.await_announcement(bigint) from public;
grant execute on function chat_private.await_announcement(bigint) to chat_app;

commit;
