-- Deploy chat:check_metadata to pg
-- requires: chat_schema
--
-- Conversations and messages both take a metadata argument that must be a
-- JSON object of bounded size. The table constraints enforce it; this check
-- runs first so that the caller gets a short error naming the argument
-- (SQLSTATE 22023, column set) instead of a constraint violation that quotes
-- the whole row.

begin;

create function chat.check_metadata(metadata jsonb, max_bytes integer, field text default 'metadata')
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
  return metadata;
end
$$ language plpgsql immutable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.check_metadata(jsonb, integer, text) is
  'Returns metadata (''{}'' for NULL) when it is a JSON object of at most max_bytes as text; raises 22023 naming field otherwise.';

revoke all on function chat.check_metadata(jsonb, integer, text) from public;
grant execute on function chat.check_metadata(jsonb, integer, text) to chat_app;

commit;
