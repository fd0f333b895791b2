-- Deploy chat:metadata_depth to pg (reworked)
-- requires: metadata_depth@v0.4.0
--
-- Metadata nested thousands deep is accepted by jsonb (up to its parser's
-- stack) but cannot be read back by most JSON libraries, Python's included:
-- stored, it would break every later read of its conversation. At most 100
-- levels are kept, the bound the Python layer applies too.
--
-- Every message written is asked this, so it must cost what it checks. The
-- function had a search_path of its own, which keeps the planner from inlining
-- a function: every row paid a call, with the configuration saved and restored
-- around it. Its body is now SQL-standard (bound to its objects when created,
-- so it needs no search_path), and inlined into every check that asks it.
-- It walks the value once; the text-length test in front of the walk
-- serialised the value a second time to spare a walk that costs about as
-- much.

begin;

create or replace function chat.metadata_too_deep(metadata jsonb) returns boolean
  language sql immutable parallel safe security invoker
return pg_catalog.jsonb_path_exists(metadata, 'strict $.**{100} ? (@.type() == "object" || @.type() == "array")');

comment on function chat.metadata_too_deep(jsonb) is
  'True when the JSON value nests objects or arrays more than 100 levels deep (the top level being 1); NULL for NULL.';

commit;
