-- Deploy chat:metadata_depth to pg
-- requires: check_metadata
-- requires: conversations
-- requires: messages
--
-- Metadata nested thousands deep is accepted by jsonb (up to its parser's
-- stack) but cannot be read back by most JSON libraries, Python's included:
-- stored, it would break every later read of its conversation. Tool calls
-- need a handful of levels; at most 100 are kept, the same bound the Python
-- layer applies before a request reaches the database.

begin;

-- The check: is any object or array nested below the 100th level? The JSON
-- path walks the value once; a text of 200 bytes or less cannot be that deep,
-- so the common small metadata skips the walk.
create function chat.metadata_too_deep(metadata jsonb) returns boolean as $$
  select pg_catalog.octet_length(metadata::text) > 200
     and pg_catalog.jsonb_path_exists(metadata, 'strict $.**{100} ? (@.type() == "object" || @.type() == "array")');
$$ language sql immutable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.metadata_too_deep(jsonb) is
  'True when the JSON value nests objects or arrays more than 100 levels deep (the top level being 1).';

revoke all on function chat.metadata_too_deep(jsonb) from public;
grant execute on function chat.metadata_too_deep(jsonb) to chat_app;

-- The functions' argument check refuses it first, with the argument named.
create or replace function chat.check_metadata(metadata jsonb, max_bytes integer, field text default 'metadata')
returns jsonb as $$
begin
  if metadata is null then
    return '{}';
  end if;
  if pg_catalog.jsonb_typeof(metadata) <> 'object' then
    raise exception '% must be a JSON object, not %', field, pg_catalog.jsonb_typeof(metadata)
      using errcode = '22023', column = field;
  end if;
  if pg_catalog.octet_length(metadata::text) > max_bytes then
    raise exception '% is larger than % bytes', field, max_bytes
      using errcode = '22023', column = field;
  end if;
  if chat.metadata_too_deep(metadata) then
    raise exception '% is nested more than 100 levels deep', field
      using errcode = '22023', column = field;
  end if;
  return metadata;
end
$$ language plpgsql immutable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.check_metadata(jsonb, integer, text) is
  'Returns metadata (''{}'' for NULL) when it is a JSON object of at most max_bytes as text, nested at most 100 levels; raises 22023 naming field otherwise.';

-- The tables hold the bound too, for rows written without the functions.
alter table chat.conversations
  add constraint conversations_metadata_depth check (not chat.metadata_too_deep(metadata));
alter table chat.messages
  add constraint messages_metadata_depth check (not chat.metadata_too_deep(metadata));

commit;
