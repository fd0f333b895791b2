-- Deploy chat:announce to pg (reworked)
-- requires: announce@v0.13.0
-- requires: announce_after
--
-- A change is announced when its user's streams wait for one: a read of the
-- log that found nothing more said so in the lease (announce_after), which
-- the write probes anyway. Deciding by the pause before the change read the
-- user's newest event back from the log in every logged write (about 3 % of
-- an append followed by a stream), and it held only while the service read
-- a burst at a pace tied to the pause. The lock, the probe and the log as
-- they were.

begin;

-- The lock orders one user's writers (their events' numbers in the order
-- they commit) and makes a reader that found nothing wait for a write in
-- flight; a user without a live lease costs the lock and one probe. The
-- lease's announce_after, when set, is the user's event before this one
-- (set when it was the newest, and cleared by the first change after it):
-- the notification, as before, "user_id previous_event_id event_id kind
-- conversation_id [seq]", and the lease keeps when (notified_at).

create or replace function chat_private.announce() returns trigger as $$
declare
  v_user_id uuid;
  v_kind text;
  v_conversation_id uuid;
  v_seq bigint;
  v_previous bigint;
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
  select s.announce_after into v_previous
    from chat_private.event_streams s
   where s.user_id = v_user_id
     and s.open_until > pg_catalog.now();
  if not found then
    return null;
  end if;

  insert into chat.events (user_id, kind, conversation_id, seq)
  values (v_user_id, v_kind, v_conversation_id, v_seq)
  returning events.id, events.created_at into v_id, v_at;

  if v_previous is not null then
    update chat_private.event_streams s
       set announce_after = null,
           notified_at = v_at
     where s.user_id = v_user_id;
    perform pg_catalog.pg_notify('chat_events',
                                 pg_catalog.concat_ws(' ', v_user_id, v_previous, v_id, v_kind,
                                                      v_conversation_id, v_seq));
  end if;
  return null;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat_private.announce() is
  'Trigger of messages and conversations: logs a change (chat.events) when its user is the current user and follows their conversations, ordered per user by a transaction lock; and announces it on channel chat_events ("user_id previous_event_id event_id kind conversation_id [seq]") when their streams wait for it (event_streams.announce_after, set by a read of the log that found nothing more): the instances read the rest of a burst from the log. With its owner''s rights: a client writes no event.';

comment on column chat_private.event_streams.notified_at is
  'When a change of the user was last announced (NOTIFY): the first after a read of their log found nothing more.';

commit;
