-- Deploy chat:messages_search_index to pg
-- requires: messages
--
-- Full-text search over one user's messages. A GIN index on the text alone
-- would find every user's matches and drop the others' one by one; keyed by
-- (user_id, words) it finds only the current user's. btree_gin lets a GIN
-- index take the uuid; it is a trusted extension (PostgreSQL 13+), so the
-- database's owner may create it, on Neon too.
--
-- The 'simple' configuration: the chat is multilingual, and a language's
-- stemming would serve that language and garble the others. Words match as
-- written, lower-cased; websearch_to_tsquery gives prefix-free matching with
-- quotes, OR and -exclusion.

begin;

-- Its support functions go to schema public, not chat, where every function
-- is the product's own (search_path pinned, nothing for PUBLIC). When this
-- change creates the extension it says so in its comment, and its revert
-- drops only an extension it created.
do $$
begin
  if not exists (select from pg_catalog.pg_extension where extname = 'btree_gin') then
    create extension btree_gin with schema public;
    comment on extension btree_gin is 'created by chat:messages_search_index (GIN indexes on uuid)';
  end if;
end
$$;

create index messages_search_idx on chat.messages
  using gin (user_id, (pg_catalog.to_tsvector('simple'::regconfig, content)));

comment on index chat.messages_search_idx is
  'search_messages: a user''s messages by their words (simple configuration), read for that user only.';

commit;
