-- Deploy chat:provision_user to pg (reworked)
-- requires: provision_user@v0.5.0
-- requires: current_user_id
--
-- As before, but asking require_user_id where it now lives, in chat_private:
-- a plpgsql body names what it calls, so it follows no move. What it makes,
-- returns and refuses (check_token's 28000), as before.

begin;

create or replace function chat.provision_user(email text default null, issued_at timestamptz default null)
returns boolean as $$
declare
  v_user_id uuid := chat_private.require_user_id();
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
