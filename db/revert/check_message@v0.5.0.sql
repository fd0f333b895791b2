-- Revert chat:check_message from pg
--
-- Back to the checks written out in the function (check_message@v0.2.0).

begin;

create or replace function chat.check_message(
  role text,
  content text,
  metadata jsonb,
  client_msg_id text,
  field_prefix text default ''
) returns jsonb as $$
declare
  v_problem text := chat.message_metadata_problem(check_message.metadata);
begin
  if check_message.role is null or check_message.role not in ('system', 'user', 'assistant', 'tool') then
    raise exception '%role must be one of system, user, assistant, tool; not %', field_prefix,
                    coalesce(pg_catalog.quote_literal(check_message.role), 'NULL')
      using errcode = '22023', column = field_prefix || 'role';
  end if;
  if check_message.content is null then
    raise exception '%content must not be NULL (it may be empty)', field_prefix
      using errcode = '22004', column = field_prefix || 'content';
  end if;
  if pg_catalog.char_length(check_message.content) > 10000 then
    raise exception '%content is longer than 10000 characters (% characters)', field_prefix,
                    pg_catalog.char_length(check_message.content)
      using errcode = '22001', column = field_prefix || 'content';
  end if;
  if pg_catalog.char_length(check_message.client_msg_id) not between 1 and 200 then
    raise exception '%client_msg_id must be 1 to 200 characters', field_prefix
      using errcode = '22001', column = field_prefix || 'client_msg_id';
  end if;
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
  'Checks a message to append; returns its metadata (''{}'' for NULL). Raises a class 22 error naming field_prefix || the field: role, content (at most 10000 characters, not NULL), client_msg_id (1 to 200 characters), metadata (chat.message_metadata_problem, chat.metadata_too_deep).';

commit;
