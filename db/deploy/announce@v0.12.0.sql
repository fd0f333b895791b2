-- Deploy chat:announce to pg
-- requires: events
-- requires: message_parents
--
-- Every change a client follows is announced from the write itself, by
-- triggers, so that every writer is heard (the API's functions, and a person
-- with psql): a message stored, a conversation created, renamed or deleted,
-- a head moved other than by an append (a switch, a pop, a clear). The event
-- is logged and NOTIFY'd in the writing transaction, so it commits with the
-- write or not at all; its payload carries ids, never content.
--
-- Only for users who follow their conversations (a live lease in
-- chat_private.event_streams); for the others a write costs a lock that no
-- one else holds and one probe of a small table. A burst of one user's
-- changes is announced once every half second at most; the instances read
-- the rest from the log. Changes made without the user's identity (an
-- operator's purge, an account's own deletion) are not announced.

begin;

-- The one place that logs and announces: the trigger of both tables, one
-- function (a write calls one function, with one switch of rights). The lock
-- orders one user's writers:
-- held to the end of the transaction, it makes the order in which they take
-- their events' numbers the order in which they commit, so that the log
-- never gains an event before one a client has already seen. chat.
-- open_event_stream takes it too, so that a stream opened while a write is
-- in flight waits for it: that write is then committed before the client
-- loads what it shows, and every write after the stream opened sees the
-- lease; and so that a catch-up that starts half a second after an
-- announcement reads every change that announcement's half second left
-- unannounced (each of them checked before the catch-up took the lock).
--
-- The notification carries the event and the one before it of the same user
-- (ids of one user are not consecutive: they come from one identity for all),
-- so that an instance that has sent that one can send this one at once, and
-- one that has not reads what it lacks from the log.
create function chat_private.announce() returns trigger as $$
declare
  v_user_id uuid;
  v_kind text;
  v_conversation_id uuid;
  v_seq bigint;
  v_notified_at timestamptz;
  v_previous bigint;
  v_id bigint;
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
  select s.notified_at into v_notified_at
    from chat_private.event_streams s
   where s.user_id = v_user_id
     and s.open_until > pg_catalog.now();
  if not found then
    return null;
  end if;

  select max(e.id) into v_previous
    from chat.events e
   where e.user_id = v_user_id;
  insert into chat.events (user_id, kind, conversation_id, seq)
  values (v_user_id, v_kind, v_conversation_id, v_seq)
  returning events.id into v_id;

  if v_notified_at is null or v_notified_at <= pg_catalog.clock_timestamp() - interval '500 milliseconds' then
    update chat_private.event_streams s
       set notified_at = pg_catalog.clock_timestamp()
     where s.user_id = v_user_id;
    perform pg_catalog.pg_notify('chat_events',
                                 pg_catalog.concat_ws(' ', v_user_id, coalesce(v_previous, 0), v_id, v_kind,
                                                      v_conversation_id, v_seq));
  end if;
  return null;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat_private.announce() is
  'Trigger of messages and conversations: logs a change (chat.events) when its user is the current user and follows their conversations, ordered per user by a transaction lock; and announces it on channel chat_events ("user_id previous_event_id event_id kind conversation_id [seq]") unless a change of the user was announced in the last half second. With its owner''s rights: a client writes no event.';

revoke all on function chat_private.announce() from public;

-- An account's deletion ends its lease first, so that the conversations its
-- cascade deletes announce nothing, and deletes its log.
create function chat_private.end_event_stream() returns trigger as $$
begin
  delete from chat_private.event_streams s where s.user_id = old.id;
  delete from chat.events e where e.user_id = old.id;
  return old;
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

revoke all on function chat_private.end_event_stream() from public;

create trigger messages_announce
  after insert on chat.messages
  for each row execute function chat_private.announce();

create trigger conversations_announce_insert_delete
  after insert or delete on chat.conversations
  for each row execute function chat_private.announce();

-- An append moves the head and counts one more message: its message event
-- says it. A head moved otherwise (a switch keeps the count; a pop or a clear
-- lowers it) is an event of its own. Filtered by the trigger's condition, so
-- that an append calls no function for it.
create trigger conversations_announce_update
  after update of title, head_seq on chat.conversations
  for each row
  when (old.title is distinct from new.title
        or (old.head_seq is distinct from new.head_seq and new.message_count <= old.message_count))
  execute function chat_private.announce();

create trigger users_end_event_stream
  before delete on chat.users
  for each row execute function chat_private.end_event_stream();

comment on trigger messages_announce on chat.messages is
  'Live updates: a message stored, for a user who follows their conversations (chat_private.announce).';
comment on trigger conversations_announce_insert_delete on chat.conversations is
  'Live updates: a conversation created or deleted (chat_private.announce).';
comment on trigger conversations_announce_update on chat.conversations is
  'Live updates: a conversation renamed, or its head moved other than by an append (chat_private.announce).';
comment on trigger users_end_event_stream on chat.users is
  'Live updates: a deleted account''s lease ends before its conversations go, so that they announce nothing, and its log goes.';

commit;
