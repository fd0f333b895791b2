-- Deploy chat:open_event_stream to pg (reworked)
-- requires: open_event_stream@v0.14.0
--
-- The kind of an event read back as text (e.kind::text): the function's
-- result keeps its type when the log's column becomes the domain
-- chat.event_kind (RETURN QUERY wants the declared types exactly).

begin;

create or replace function chat.open_event_stream(after_id bigint default null, max_count integer default 1000)
returns table (id bigint, kind text, conversation_id uuid, seq bigint) as $$
declare
  v_user_id uuid := chat_private.require_user_id();
  v_problem text;
  v_since bigint;
  v_live boolean;
  v_newest bigint;
begin
  v_problem := chat_private.max_count_problem(open_event_stream.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;

  perform pg_catalog.pg_advisory_xact_lock(1667785076, pg_catalog.uuid_hash(v_user_id));
  select s.since_id, s.open_until > pg_catalog.now()
    into v_since, v_live
    from chat_private.event_streams s
   where s.user_id = v_user_id;

  -- A lease that has run out left changes unlogged: a new run of the log
  -- begins, marked by an event of its own, and the events before it go (no
  -- stream can resume from them). A live lease is renewed once it has less
  -- than 45 seconds left (every 20 seconds, as the service renews it): the
  -- catch-ups between are reads.
  if coalesce(v_live, false) then
    update chat_private.event_streams s
       set open_until = pg_catalog.now() + interval '60 seconds'
     where s.user_id = v_user_id
       and s.open_until < pg_catalog.now() + interval '45 seconds';
  else
    delete from chat.events e
     where e.user_id = v_user_id;
    insert into chat.events (user_id, kind)
    values (v_user_id, 'stream_opened')
    returning events.id into v_since;
    insert into chat_private.event_streams (user_id, open_until, since_id, announce_after)
    values (v_user_id, pg_catalog.now() + interval '60 seconds', v_since, v_since)
    on conflict on constraint event_streams_pkey do update
      set open_until = excluded.open_until,
          since_id = excluded.since_id,
          notified_at = null,
          announce_after = excluded.announce_after;
  end if;

  -- Resuming within the run, from an event still there: what came after it.
  if open_event_stream.after_id is not null and v_live and open_event_stream.after_id >= v_since
     and exists (select from chat.events e
                  where e.user_id = v_user_id and e.id = open_event_stream.after_id) then
    return query
      select e.id, e.kind::text, e.conversation_id, e.seq
        from chat.events e
       where e.user_id = v_user_id
         and e.id > open_event_stream.after_id
       order by e.id
       limit open_event_stream.max_count;
    if found then
      return;
    end if;
    v_newest := open_event_stream.after_id;
  else
    -- Otherwise the stream starts now: ready (a new stream) or resync (a
    -- client whose last event is before the run, or gone), at the newest
    -- event.
    select e.id into v_newest
      from chat.events e
     where e.user_id = v_user_id
     order by e.id desc
     limit 1;
    return query
      select v_newest, case when open_event_stream.after_id is null then 'ready' else 'resync' end,
             null::uuid, null::bigint
       where v_newest is not null;
  end if;

  -- Nothing more to read: the stream waits for the user's next change, which
  -- is announced.
  perform chat_private.await_announcement(v_newest);
end
$$ language plpgsql volatile security definer set search_path = pg_catalog, pg_temp;

comment on function chat.open_event_stream(bigint, integer) is
  'Opens or renews the current user''s stream of live updates for 60 seconds (their changes are logged and announced on channel chat_events meanwhile). With after_id (the last event a client saw) within the unbroken log: the events after it, oldest first, at most max_count (1..1000). Otherwise one row where the stream starts: ready (no after_id) or resync (after_id too old), with the newest event''s id. With nothing more to read, the user''s next change is announced (event_streams.announce_after).';

commit;
