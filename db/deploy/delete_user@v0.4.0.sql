-- Deploy chat:delete_user to pg
-- requires: users_rls
--
-- A user deletes their account: their row, and by cascade everything of
-- theirs (tasks, conversations, messages, turns). Only their own: the
-- function filters by the current user, as the policies do.

begin;

create function chat.delete_user()
returns boolean as $$
declare
  v_user_id uuid := chat.require_user_id();
begin
  delete from chat.users u
   where u.id = v_user_id;
  return found;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.delete_user() is
  'Deletes the current user and, by cascade, everything of theirs; true if there was a row.';

revoke all on function chat.delete_user() from public;
grant execute on function chat.delete_user() to chat_app;

commit;
