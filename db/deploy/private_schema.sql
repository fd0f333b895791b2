-- Deploy chat:private_schema to pg
-- requires: roles
-- requires: chat_schema
-- requires: operator_role
--
-- The API lives in schema chat, so that \df chat.* lists what the backend
-- calls and nothing else. The helpers the API is built from (the limits'
-- validators, the checks and error raisers, the current user, the turn's
-- lock) live here: the runtime role may use them, as the API's functions
-- and the tables' policies and domains do, but they are no one's interface.
-- The auditor reads tables and the operator calls its purges, which run with
-- their owner's rights: neither needs anything here.

begin;

create schema chat_private;

comment on schema chat_private is
  'Helpers of the chat API that are not the API: validators (*_problem), checks and error raisers (check_*, raise_*), the current user, locks. The runtime role may use them; other programs call schema chat.';

revoke all on schema chat_private from public;
grant usage on schema chat_private to chat_app;

commit;
