-- Deploy chat:message_element to pg
-- requires: check_message
-- requires: message_tokens
--
-- A message given as a JSON element ({role, content, metadata?,
-- client_msg_id?, tokens?}) is checked the same way by every function that
-- takes a batch of them (append_messages, compact_messages): one place that
-- says what an element may hold, with errors naming it (messages[3].tokens).

begin;

create function chat_private.check_message_element(element jsonb, field text) returns jsonb as $$
declare
  v_name text;
  v_tokens numeric;
  v_problem text;
begin
  if pg_catalog.jsonb_typeof(element) is distinct from 'object' then
    raise exception '% must be a JSON object with role, content, metadata, client_msg_id and tokens, not %',
                    field, coalesce(pg_catalog.jsonb_typeof(element), 'NULL')
      using errcode = '22023', column = field;
  end if;
  if element - '{role,content,metadata,client_msg_id,tokens}'::text[] <> '{}' then
    select pg_catalog.min(k.name) into v_name
      from pg_catalog.jsonb_object_keys(element - '{role,content,metadata,client_msg_id,tokens}'::text[]) as k (name);
    raise exception '%.% is not a field of a message (role, content, metadata, client_msg_id, tokens)', field, v_name
      using errcode = '22023', column = field || '.' || v_name;
  end if;
  foreach v_name in array array['role', 'content', 'client_msg_id'] loop
    if pg_catalog.jsonb_typeof(element -> v_name) not in ('string', 'null') then
      raise exception '%.% must be a JSON string, not %', field, v_name, pg_catalog.jsonb_typeof(element -> v_name)
        using errcode = '22023', column = field || '.' || v_name;
    end if;
  end loop;
  if pg_catalog.jsonb_typeof(element -> 'tokens') not in ('number', 'null') then
    raise exception '%.tokens must be a JSON number, not %', field, pg_catalog.jsonb_typeof(element -> 'tokens')
      using errcode = '22023', column = field || '.tokens';
  end if;
  v_tokens := (element ->> 'tokens')::numeric;
  -- (a fraction or a number beyond bigint is out of range as -1 is)
  v_problem := chat_private.tokens_problem(
    case when v_tokens = pg_catalog.trunc(v_tokens) and pg_catalog.abs(v_tokens) < 1e18 then v_tokens::bigint
         when v_tokens is not null then -1 end);
  if v_problem is not null then
    raise exception '%.tokens %, not %', field, v_problem, v_tokens
      using errcode = '22003', column = field || '.tokens';
  end if;
  return chat_private.check_message(element ->> 'role', element ->> 'content',
                                    nullif(element -> 'metadata', 'null'), element ->> 'client_msg_id',
                                    field || '.');
end
$$ language plpgsql immutable parallel safe security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.check_message_element(jsonb, text) is
  'Checks one message of a batch, a JSON object {role, content, metadata?, client_msg_id?, tokens?}; returns its metadata (''{}'' for none). Raises a class 22 error naming field (messages[3]) and the field in it.';

revoke all on function chat_private.check_message_element(jsonb, text) from public;
grant execute on function chat_private.check_message_element(jsonb, text) to chat_app;

commit;
