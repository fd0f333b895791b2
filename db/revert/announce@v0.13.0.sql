-- Revert chat:announce from pg (reworked)
--
-- Back to the @v0.12.0 body: a user's changes announced once every half
-- second at most (event_streams.notified_at).

begin;

create or replace function chat_private.announce() returns trigger as $$
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

comment on column chat_private.event_streams.notified_at is
  'When a change of the user was last announced (NOTIFY): the changes of the next half second are logged but not announced, and the instances read them from the log half a second after the announcement.';

commit;
