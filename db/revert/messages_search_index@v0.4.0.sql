-- Revert chat:messages_search_index from pg

begin;

drop index chat.messages_search_idx;

-- The extension goes with it when this change made it; one that was there
-- before is left alone.
do $$
begin
  if pg_catalog.obj_description((select oid from pg_catalog.pg_extension where extname = 'btree_gin'),
                                'pg_extension') = 'created by chat:messages_search_index (GIN indexes on uuid)' then
    drop extension btree_gin;
  end if;
end
$$;

commit;
