-- Revert chat:current_user_id from pg (reworked)
--
-- Back to the function of v0.1.0: a SQL body as text, with a pinned
-- search_path.

begin;

create or replace function chat.current_user_id() returns uuid as $$
  select nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
$$ language sql stable parallel safe security invoker set search_path = pg_catalog, pg_temp;

commit;
