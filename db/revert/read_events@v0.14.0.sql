-- Revert chat:read_events from pg (reworked)
--
-- Back to the @v0.13.0 body: a read that finds nothing writes nothing.

begin;

-- A read that finds nothing ends a stream's burst, and the user's next change
-- is then announced: first it waits for a change of theirs being written (the
-- writers' lock, shared), so that a change inserted before the read and
-- committed after it is read, not missed until the next renewal. A read that
-- finds events takes no lock: the writers of a burst never wait for it.
create or replace function chat.read_events(user_ids uuid[], after_ids bigint[], max_count integer default 1000)
returns table (user_id uuid, id bigint, kind text, conversation_id uuid, seq bigint) as $$
declare
  v_caller text := pg_catalog.current_setting('app.user_id', true);
  v_problem text;
begin
  v_problem := chat_private.max_count_problem(read_events.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;
  if read_events.user_ids is null or pg_catalog.array_position(read_events.user_ids, null) is not null then
    raise exception 'user_ids may not be or hold NULL'
      using errcode = '22004', column = 'user_ids';
  end if;
  if read_events.after_ids is null or pg_catalog.array_position(read_events.after_ids, null) is not null then
    raise exception 'after_ids may not be or hold NULL'
      using errcode = '22004', column = 'after_ids';
  end if;
  if pg_catalog.cardinality(read_events.after_ids) <> pg_catalog.cardinality(read_events.user_ids) then
    raise exception 'after_ids must hold one position for each of user_ids (% for %)',
                    pg_catalog.cardinality(read_events.after_ids), pg_catalog.cardinality(read_events.user_ids)
      using errcode = '22023', column = 'after_ids';
  end if;

  for i in 1 .. pg_catalog.cardinality(read_events.user_ids) loop
    perform pg_catalog.set_config('app.user_id', read_events.user_ids[i]::text, true);
    continue when not exists (select from chat_private.event_streams s
                               where s.user_id = chat_private.current_user_id()
                                 and s.since_id <= read_events.after_ids[i]);
    for v_attempt in 1 .. 2 loop
      if v_attempt = 2 then  -- nothing yet: a change being written first
        perform pg_catalog.pg_advisory_xact_lock_shared(1667785076, pg_catalog.uuid_hash(read_events.user_ids[i]));
      end if;
      return query
        select e.user_id, e.id, e.kind, e.conversation_id, e.seq
          from chat.events e
         where e.user_id = chat_private.current_user_id()
           and e.id > read_events.after_ids[i]
         order by e.id
         limit read_events.max_count;
      exit when found;
    end loop;
  end loop;
  perform pg_catalog.set_config('app.user_id', coalesce(v_caller, ''), true);
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.read_events(uuid[], bigint[], integer) is
  'The events after each user''s position (user_ids[i] after after_ids[i]), oldest first, at most max_count a user; each user''s read as that user (app.user_id set to them, row security applying), the caller''s setting back at the end. Nothing for a position before the user''s current run of the log (chat.open_event_stream answers it with resync). The reads of bursts, for all the streams of a service instance in one call.';

commit;
