-- Deploy chat:argument_limits to pg (reworked)
-- requires: argument_limits@v0.5.0
-- requires: private_schema
--
-- The limits of the API functions' other arguments are still each written
-- once, in a validator; helpers, not the API, they move to chat_private.
-- What they say is unchanged; the functions that ask them are reworked to
-- name them there.

begin;

alter function chat.max_count_problem(integer) set schema chat_private;
alter function chat.search_query_problem(text) set schema chat_private;
alter function chat.message_batch_problem(jsonb) set schema chat_private;

commit;
