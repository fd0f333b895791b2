-- Revert chat:metadata_depth from pg
--
-- Back to the function with its own search_path and the text-length test in
-- front of the walk (metadata_depth@v0.4.0).

begin;

create or replace function chat.metadata_too_deep(metadata jsonb) returns boolean as $$
  select pg_catalog.octet_length(metadata::text) > 200
     and pg_catalog.jsonb_path_exists(metadata, 'strict $.**{100} ? (@.type() == "object" || @.type() == "array")');
$$ language sql immutable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.metadata_too_deep(jsonb) is
  'True when the JSON value nests objects or arrays more than 100 levels deep (the top level being 1).';

commit;
