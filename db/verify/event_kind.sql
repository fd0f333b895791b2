-- Verify chat:event_kind on pg

begin;

-- the log's kind is of the domain, which holds the rule
select 1 / count(*) from pg_catalog.pg_attribute
 where attrelid = 'chat.events'::regclass and attname = 'kind' and atttypid = 'chat.event_kind'::regtype;
select 1 / count(*) from pg_catalog.pg_constraint
 where contypid = 'chat.event_kind'::regtype and conname = 'event_kind_known' and convalidated;
-- an unknown kind is refused
do $$
begin
  perform 'bogus'::chat.event_kind;
  raise exception 'chat.event_kind took an unknown kind';
exception
  when check_violation then null;
end
$$;

rollback;
