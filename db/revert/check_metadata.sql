-- Revert chat:check_metadata from pg (reworked)
--
-- Back as it was: as the change metadata_depth@v0.4.0 left it.

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
  if chat.metadata_too_deep(metadata) then
    raise exception '% is nested more than 100 levels deep', field
      using errcode = '22023', column = field;
  end if;
  return metadata;
end
$$ language plpgsql immutable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.check_metadata(jsonb, integer, text) is
  'Returns metadata (''{}'' for NULL) when it is a JSON object of at most max_bytes as text, nested at most 100 levels; raises 22023 naming field otherwise.';

revoke all on function chat.check_metadata(jsonb, integer, text) from public;
grant execute on function chat.check_metadata(jsonb, integer, text) to chat_app;

commit;
