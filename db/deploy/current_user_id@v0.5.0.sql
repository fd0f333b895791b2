-- Deploy chat:current_user_id to pg (reworked)
-- requires: current_user_id@v0.1.0
--
-- The current user, read in one place as before, now with a SQL-standard
-- body: it is bound to what it calls when it is created, so it needs no
-- search_path, and a function without one can be inlined. The planner puts
-- its expression into every policy and every query that calls it: the row's
-- user is compared with the setting itself, an index condition evaluated once
-- per scan, instead of a call that saves and restores search_path for each
-- statement. require_user_id, which refuses to act for nobody, is unchanged.

begin;

-- Unset and empty both mean "nobody": RLS then matches no row (fail closed).
-- A value that is not a uuid raises 22P02 rather than matching anything.
create or replace function chat.current_user_id() returns uuid
  language sql stable parallel safe security invoker
  return nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;

commit;
