-- Revert chat:provision_user from pg (reworked)
--
-- Back to the body of provision_user@v0.5.0, which names require_user_id
-- in chat (the revert of current_user_id, which runs after this one,
-- brings it back there).

begin;

create or replace function chat.provision_user(email text default null, issued_at timestamptz default null)
returns boolean as $$
declare
  v_user_id uuid := chat.require_user_id();
  v_created boolean := false;
begin
  perform chat.check_token(provision_user.issued_at);

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

commit;
