-- Deploy chat:list_conversations to pg (reworked)
-- requires: list_conversations@v0.3.0
-- requires: argument_limits
--
-- As before (see list_conversations@v0.3.0), with the same errors, but
-- max_count's limit asked of chat.max_count_problem, written once; the query
-- is unchanged, so the page is still read as the index gives it.

begin;

create or replace function chat.list_conversations(
  max_count integer default 20,
  before_activity timestamptz default null,
  before_id uuid default null
) returns setof chat.conversations as $$
declare
  v_problem text;
begin
  perform chat.require_user_id();

  v_problem := chat.max_count_problem(list_conversations.max_count);
  if v_problem is not null then
    raise exception 'max_count %', v_problem
      using errcode = '22023', column = 'max_count';
  end if;
  if list_conversations.before_id is not null and list_conversations.before_activity is null then
    raise exception 'before_id needs before_activity'
      using errcode = '22023', column = 'before_activity';
  end if;

  -- No cursor reads from the newest; a time without an id starts strictly
  -- before that time (the nil uuid sorts first).
  return query
    select c.*
      from chat.conversations c
     where c.user_id = chat.current_user_id()
       and (c.updated_at, c.id) < (coalesce(list_conversations.before_activity, 'infinity'),
                                   coalesce(list_conversations.before_id, '00000000-0000-0000-0000-000000000000'))
     order by c.updated_at desc, c.id desc
     limit list_conversations.max_count;
end
$$ language plpgsql stable security invoker set search_path = pg_catalog, pg_temp;

commit;
