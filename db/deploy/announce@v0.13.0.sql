-- Deploy chat:announce to pg (reworked)
-- requires: announce@v0.12.0
--
-- A change is announced when it is the first of its user's after a pause,
-- not once every half second. NOTIFY holds a lock on the notification queue
-- from before its transaction's commit to after it, WAL flush included, so
-- the transactions that notify commit one at a time: with 100 users
-- appending, 200 announcements a second (one a user every half second) cost
-- the appends a tenth of their throughput. The service instances read the
-- rest of a burst from the log while it goes on (app/events.py: half a
-- second after the last event a stream sent, until a read that late finds
-- none), which costs the database reads, not serialized commits. The
-- triggers are as they were.

begin;

-- As before: the lock orders one user's writers (their events' numbers in
-- the order they commit, and a read of the log waits for a write in flight);
-- a user without a live lease costs the lock and one probe.
--
-- The pause: no event of the user for 300 milliseconds before this one, or
-- none since their lease's run of the log began (its stream_opened). A
-- stream reads the log half a second after its last read that found events
-- and stops at the first that finds none, so that no event came for half a
-- second before it: the next one comes after a pause, and is announced. The
-- 200 milliseconds between the two leave room for a read's own delays. The
-- notification, as before: "user_id previous_event_id event_id kind
-- conversation_id [seq]", the previous one the user's event before it; and
-- the lease keeps when (event_streams.notified_at, for people reading it).
create or replace function chat_private.announce() returns trigger as $$
declare
  v_user_id uuid;
  v_kind text;
  v_conversation_id uuid;
  v_seq bigint;
  v_previous bigint;
  v_previous_kind text;
  v_previous_at timestamptz;
  v_id bigint;
  v_at timestamptz;
begin
  if tg_table_name = 'messages' then
    v_user_id := new.user_id;
    v_kind := 'message';
    v_conversation_id := new.conversation_id;
    v_seq := new.seq;
  elsif tg_op = 'DELETE' then
    v_user_id := old.user_id;
    v_kind := 'conversation_deleted';
    v_conversation_id := old.id;
  else
    v_user_id := new.user_id;
    v_conversation_id := new.id;
    if tg_op = 'INSERT' then
      v_kind := 'conversation_created';
    elsif new.title is distinct from old.title then
      v_kind := 'conversation_renamed';
    else
      v_kind := 'head_switched';
      v_seq := new.head_seq;
    end if;
  end if;
  if v_user_id is distinct from chat_private.current_user_id() then
    return null;
  end if;

  perform pg_catalog.pg_advisory_xact_lock(1667785076, pg_catalog.uuid_hash(v_user_id));
  perform from chat_private.event_streams s
   where s.user_id = v_user_id
     and s.open_until > pg_catalog.now();
  if not found then
    return null;
  end if;

  select e.id, e.kind, e.created_at into v_previous, v_previous_kind, v_previous_at
    from chat.events e
   where e.user_id = v_user_id
   order by e.id desc
   limit 1;
  insert into chat.events (user_id, kind, conversation_id, seq)
  values (v_user_id, v_kind, v_conversation_id, v_seq)
  returning events.id, events.created_at into v_id, v_at;

  if v_previous_kind is null or v_previous_kind = 'stream_opened'
     or v_at - v_previous_at >= interval '300 milliseconds' then
    update chat_private.event_streams s
       set notified_at = v_at
     where s.user_id = v_user_id;
    perform pg_catalog.pg_notify('chat_events',
                                 pg_catalog.concat_ws(' ', v_user_id, coalesce(v_previous, 0), v_id, v_kind,
                                                      v_conversation_id, v_seq));
  end if;
  return null;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat_private.announce() is
  'Trigger of messages and conversations: logs a change (chat.events) when its user is the current user and follows their conversations, ordered per user by a transaction lock; and announces it on channel chat_events ("user_id previous_event_id event_id kind conversation_id [seq]") when it is the first change of the user after a pause (no event for 300 ms): the instances read the rest of a burst from the log. With its owner''s rights: a client writes no event.';

comment on column chat_private.event_streams.notified_at is
  'When a change of the user was last announced (NOTIFY): the first after a pause of 300 ms; the instances read the rest of its burst from the log.';

commit;
