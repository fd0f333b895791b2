-- Deploy chat:provision_user to pg
-- requires: users_rls
--
-- A user is provisioned on first use: their own row, with the email their
-- token claims when the table takes it (users_email_format says what an
-- address is, the unique key whose it is). An email that is malformed or
-- another user's is left out rather than refused, so that provisioning never
-- fails and never tells whose an address is. Idempotent: an existing row is
-- left as it is.

begin;

create function chat.provision_user(email text default null)
returns boolean as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_created boolean := false;
begin
  if provision_user.email is not null then
    begin
      insert into chat.users (id, email)
      values (v_user_id, provision_user.email)
      on conflict do nothing;
      v_created := found;
    exception
      when check_violation then
        null; -- not an address the table takes: provisioned without it, below
    end;
  end if;

  if not v_created then
    insert into chat.users (id)
    values (v_user_id)
    on conflict (id) do nothing;
    v_created := found;
  end if;
  return v_created;
end
$$ language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.provision_user(text) is
  'Makes the current user''s row if it is missing, with email when it is well formed and nobody else''s (NULL otherwise); true if it made the row. Never fails on the email.';

revoke all on function chat.provision_user(text) from public;
grant execute on function chat.provision_user(text) to chat_app;

commit;
