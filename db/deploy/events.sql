-- Deploy chat:events to pg
-- requires: conversations_rls
-- requires: current_user_id
--
-- Live updates: what changed in a user's conversations, as ids only (never
-- content), for the clients that follow them (GET /api/events). Two tables.
--
-- chat.events is the log a client that reconnects catches up from: an event
-- per change, numbered by an identity that follows the order in which one
-- user's changes commit (the writers of one user take the same lock before
-- they number, chat_private.announce), so that a client that has seen event
-- n has seen every event of its user before n.
--
-- chat_private.event_streams says whose changes are followed: a user with a
-- stream open somewhere holds a lease that each service instance renews
-- while the stream lasts. Changes are logged and announced (NOTIFY) only for
-- users holding one, so that following costs nothing to the others; and a
-- user's burst of changes sends one NOTIFY every half second at most (the
-- lease keeps when the last went), since NOTIFY serializes the commits of the
-- transactions that send one: the instances read the rest from the log.
--
-- Both are written only by the functions of this feature, with their owner's
-- rights: no client can forge an event.

begin;

-- The log. No foreign key to the user: its check would lock the user's row
-- for every event; the user's deletion deletes their events instead
-- (chat_private.end_event_stream).
create table chat.events (
  user_id         uuid not null,
  id              bigint not null generated always as identity,
  kind            text not null
                  constraint events_kind check (kind in ('stream_opened', 'message', 'conversation_created',
                                                         'conversation_renamed', 'conversation_deleted',
                                                         'head_switched')),
  conversation_id uuid
                  constraint events_conversation check ((conversation_id is null) = (kind = 'stream_opened')),
  seq             bigint,
  created_at      timestamptz not null default pg_catalog.clock_timestamp(),
  primary key (user_id, id)
);

alter table chat.events enable row level security;
alter table chat.events force row level security;

comment on table chat.events is
  'Live updates: the changes to a user''s conversations while the user follows them (chat_private.event_streams), ids only, numbered in the order each user''s changes commit. Written by chat_private.announce (triggers) and chat.open_event_stream; read back by chat.open_event_stream when a client resumes. A user''s events before their current lease began are deleted when it begins, and all of them with the user.';
comment on column chat.events.id is
  'The event''s number: within one user, the order in which the changes committed. Sent as the SSE id; a client resumes after it.';
comment on column chat.events.kind is
  'message (stored: conversation_id, seq), conversation_created, conversation_renamed, conversation_deleted, head_switched (seq: the new head, NULL when emptied), or stream_opened (where an unbroken run of the log begins).';
comment on column chat.events.seq is
  'The message stored (message) or the new head (head_switched); NULL otherwise.';

-- One policy per command for the runtime role, as on every table: it may
-- read its own events, and holds no privilege to write any; the other three
-- bound any grant a later change might add.
create policy events_select on chat.events
  for select to chat_app
  using (user_id = chat_private.current_user_id());

create policy events_insert on chat.events
  for insert to chat_app
  with check (user_id = chat_private.current_user_id());

create policy events_update on chat.events
  for update to chat_app
  using (user_id = chat_private.current_user_id())
  with check (user_id = chat_private.current_user_id());

create policy events_delete on chat.events
  for delete to chat_app
  using (user_id = chat_private.current_user_id());

create policy events_audit on chat.events
  for select to chat_auditor
  using (true);

grant select on chat.events to chat_app;
grant select on chat.events to chat_auditor;

-- Who is followed
create table chat_private.event_streams (
  user_id    uuid primary key references chat.users (id) on delete cascade,
  open_until  timestamptz not null,
  since_id    bigint not null,
  notified_at timestamptz
);

alter table chat_private.event_streams enable row level security;
alter table chat_private.event_streams force row level security;

comment on table chat_private.event_streams is
  'Users whose changes are logged and announced: one lease a user, renewed by chat.open_event_stream while a stream of theirs is open on any service instance.';
comment on column chat_private.event_streams.open_until is
  'The lease''s end: changes committed after it are not logged, and a stream resuming from before it gets resync.';
comment on column chat_private.event_streams.notified_at is
  'When a change of the user was last announced (NOTIFY): the changes of the next half second are logged but not announced, and the instances read them from the log half a second after the announcement.';
comment on column chat_private.event_streams.since_id is
  'The stream_opened event where the lease''s unbroken run of the log begins: a client may resume from it or after it.';

create policy event_streams_select on chat_private.event_streams
  for select to chat_app
  using (user_id = chat_private.current_user_id());

create policy event_streams_insert on chat_private.event_streams
  for insert to chat_app
  with check (user_id = chat_private.current_user_id());

create policy event_streams_update on chat_private.event_streams
  for update to chat_app
  using (user_id = chat_private.current_user_id())
  with check (user_id = chat_private.current_user_id());

create policy event_streams_delete on chat_private.event_streams
  for delete to chat_app
  using (user_id = chat_private.current_user_id());

grant select on chat_private.event_streams to chat_app;

-- The functions that write both run with their owner's rights, filtering by
-- the current user themselves. On Neon the owner bypasses row security; an
-- owner that does not (a plain owner on a self-hosted server, where FORCE
-- applies to it) gets the policies they need, for itself alone.
do $$
begin
  if not exists (select from pg_catalog.pg_roles
                  where rolname = current_user and (rolsuper or rolbypassrls)) then
    execute pg_catalog.format(
      'create policy events_owner_select on chat.events for select to %I using (true)', current_user);
    execute pg_catalog.format(
      'create policy events_owner_insert on chat.events for insert to %I with check (true)', current_user);
    execute pg_catalog.format(
      'create policy events_owner_delete on chat.events for delete to %I using (true)', current_user);
    execute pg_catalog.format(
      'create policy event_streams_owner_select on chat_private.event_streams for select to %I using (true)',
      current_user);
    execute pg_catalog.format(
      'create policy event_streams_owner_insert on chat_private.event_streams for insert to %I with check (true)',
      current_user);
    execute pg_catalog.format(
      'create policy event_streams_owner_update on chat_private.event_streams for update to %I using (true) with check (true)',
      current_user);
    execute pg_catalog.format(
      'create policy event_streams_owner_delete on chat_private.event_streams for delete to %I using (true)',
      current_user);
  end if;
end
$$;

commit;
