-- Deploy chat:provision_user to pg (reworked)
-- requires: provision_user@v0.4.0
-- requires: check_token
--
-- Provisioning as before (the user's own row, with the token's email when
-- the table takes it; never failing on the email), but never for a token
-- issued before the account was deleted: that token's user asked to be
-- forgotten, and the request is refused (28000, check_token) rather than
-- bringing the account back with its email. So the function takes the
-- token's issue time; without one it provisions only a user that was never
-- deleted (or whose tombstone was purged). A token issued after the deletion
-- (the identity provider made the account again) provisions a new, empty
-- user.

begin;

drop function chat.provision_user(text);

create function chat.provision_user(email text default null, issued_at timestamptz default null)
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

comment on function chat.provision_user(text, timestamptz) is
  'Makes the current user''s row if it is missing, with email when it is well formed and nobody else''s (NULL otherwise); true if it made the row. Never fails on the email; raises 28000 (check_token) for a token issued before the account was deleted.';

revoke all on function chat.provision_user(text, timestamptz) from public;
grant execute on function chat.provision_user(text, timestamptz) to chat_app;

commit;
