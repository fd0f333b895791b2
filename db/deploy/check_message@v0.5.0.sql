-- Deploy chat:check_message to pg (reworked)
-- requires: check_message@v0.2.0
-- requires: limits
--
-- As before (see check_message@v0.2.0), the same errors naming the same
-- fields, but each limit asked of its function (the change limits), the one
-- definition the table's checks ask too.

begin;

create or replace function chat.check_message(
  role text,
  content text,
  metadata jsonb,
  client_msg_id text,
  field_prefix text default ''
) returns jsonb as $$
declare
  v_problem text;
begin
  v_problem := chat.role_problem(check_message.role);
  if v_problem is not null then
    raise exception '%role %', field_prefix, v_problem
      using errcode = '22023', column = field_prefix || 'role';
  end if;
  if check_message.content is null then
    raise exception '%content must not be NULL (it may be empty)', field_prefix
      using errcode = '22004', column = field_prefix || 'content';
  end if;
  v_problem := chat.content_problem(check_message.content);
  if v_problem is not null then
    raise exception '%content %', field_prefix, v_problem
      using errcode = '22001', column = field_prefix || 'content';
  end if;
  v_problem := chat.client_msg_id_problem(check_message.client_msg_id);
  if v_problem is not null then
    raise exception '%client_msg_id %', field_prefix, v_problem
      using errcode = '22001', column = field_prefix || 'client_msg_id';
  end if;
  v_problem := chat.message_metadata_problem(check_message.metadata);
  if v_problem is not null then
    raise exception '%metadata %', field_prefix, v_problem
      using errcode = '22023', column = field_prefix || 'metadata';
  end if;
  if chat.metadata_too_deep(check_message.metadata) then
    raise exception '%metadata is nested more than 100 levels deep', field_prefix
      using errcode = '22023', column = field_prefix || 'metadata';
  end if;
  return coalesce(check_message.metadata, '{}');
end
$$ language plpgsql immutable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat.check_message(text, text, jsonb, text, text) is
  'Checks a message to append; returns its metadata (''{}'' for NULL). Raises a class 22 error naming field_prefix || the field, with what chat.role_problem, chat.content_problem (and content NOT NULL), chat.client_msg_id_problem, chat.message_metadata_problem and chat.metadata_too_deep say.';

commit;
