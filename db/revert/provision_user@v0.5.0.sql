-- Revert chat:provision_user from pg (reworked)
--
-- Back to provision_user@v0.4.0: email only, no check of a deletion.

begin;

drop function chat.provision_user(text, timestamptz);

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
