-- Deploy chat:message_tokens to pg
-- requires: limits
-- requires: private_schema
--
-- Every message has a token count, so that a model's context can be read as
-- a budget (chat.fetch_context) rather than a number of messages. The writer
-- knows it best when it has one (a model's usage, a tokenizer): that is
-- tokens_given. Otherwise the database estimates it, from the content and
-- the metadata, by the one rule below. The column people and the model read,
-- tokens, is the one or the other, for a row written by any path, SQL
-- function or not; the existing rows get the estimate as the column is added
-- (one rewrite of the table, under its lock).

begin;

-- A token count, as writers give it and as the table keeps it.
create function chat_private.tokens_problem(tokens bigint) returns text
  language sql immutable parallel safe
  return case when tokens < 0 or tokens > 2147483647 then 'must be a whole number from 0 to 2147483647' end;

comment on function chat_private.tokens_problem(bigint) is
  'The one definition of a token count (tokens): NULL when it is 0 to 2147483647 or NULL; otherwise what is wrong.';

revoke all on function chat_private.tokens_problem(bigint) from public;
grant execute on function chat_private.tokens_problem(bigint) to chat_app;

create domain chat.token_count as integer
  constraint token_count_range check (chat_private.tokens_problem(value) is null);

comment on domain chat.token_count is
  'A number of tokens, as chat_private.tokens_problem allows: 0 or more.';

-- The one rule for a count nobody gave: about four characters a token for
-- English text (OpenAI's own rule of thumb), rounded up, plus four for the
-- message's own framing (role, separators); of the larger of the content and
-- the metadata as JSON text: an agent's message is the item its metadata
-- holds (a tool's output of 200 KiB, encrypted reasoning), of which the
-- content is a readable line of at most 10,000 characters; other messages'
-- metadata is usually empty, and then not rendered at all. Cheap: no
-- extension, no tokenizer; a SQL-standard body, inlined into the writers'
-- inserts, whose plans are cached.
create function chat_private.estimated_tokens(content text, metadata jsonb) returns integer
  language sql immutable parallel safe
  return (greatest(pg_catalog.char_length(content),
                   case when metadata = '{}' then 0 else pg_catalog.char_length(metadata::text) end) + 3) / 4 + 4;

comment on function chat_private.estimated_tokens(text, jsonb) is
  'The database''s estimate of a message''s tokens when its writer gave none: ceil(characters / 4) + 4, of the larger of its content and its metadata as JSON text (an agent''s item). Defined once: the writers and the trigger messages_estimate_tokens ask it.';

revoke all on function chat_private.estimated_tokens(text, jsonb) from public;
grant execute on function chat_private.estimated_tokens(text, jsonb) to chat_app;

-- The columns. tokens is generated while it is added, so that the table's
-- one rewrite gives every existing message its estimate (no UPDATE, which row
-- security would limit to no one's rows); then it is a plain column, which
-- the writers fill. (A generated column's expression is planned again by
-- every statement that writes a row: it cost an append a sixth more.)
alter table chat.messages
  add column tokens_given chat.token_count,
  add column tokens chat.token_count not null
    generated always as (coalesce(tokens_given, chat_private.estimated_tokens(content, metadata))) stored;
alter table chat.messages alter column tokens drop expression;

comment on column chat.messages.tokens_given is
  'The token count its writer gave (a model''s usage, a tokenizer''s count); NULL when none was given.';
comment on column chat.messages.tokens is
  'The message''s tokens: tokens_given when its writer gave one, otherwise chat_private.estimated_tokens(content, metadata). Filled by the writers; a row inserted without it gets it from the trigger messages_estimate_tokens.';

-- Any other insert (a row written by hand, a data load) that leaves tokens
-- out gets the same count. The writers always give it, so the trigger never
-- fires for them: its WHEN is all they pay.
create function chat_private.messages_estimate_tokens() returns trigger as $$
begin
  new.tokens := coalesce(new.tokens_given, chat_private.estimated_tokens(new.content, new.metadata));
  return new;
end
$$ language plpgsql security invoker set search_path = pg_catalog, pg_temp;

comment on function chat_private.messages_estimate_tokens() is
  'Trigger of chat.messages: a row inserted without tokens gets tokens_given, or chat_private.estimated_tokens.';

revoke all on function chat_private.messages_estimate_tokens() from public;

create trigger messages_estimate_tokens
  before insert on chat.messages
  for each row when (new.tokens is null)
  execute function chat_private.messages_estimate_tokens();

-- The functions' row types carry the table's columns, then replayed: the new
-- columns go before it.
alter type chat.appended_message
  drop attribute replayed,
  add attribute tokens_given chat.token_count,
  add attribute tokens chat.token_count,
  add attribute replayed boolean;

alter type chat.turn_part
  drop attribute replayed,
  add attribute tokens_given chat.token_count,
  add attribute tokens chat.token_count,
  add attribute replayed boolean;

commit;
