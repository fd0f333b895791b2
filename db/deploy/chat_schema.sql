-- Deploy chat:chat_schema to pg
-- requires: roles
--
-- Everything of the product lives in schema chat. Nobody but the owner may
-- create objects in it; the runtime and auditor roles may only look inside.

begin;

create schema chat;

comment on schema chat is
  'Chat persistence of the todo app: users, tasks, conversations, messages and the SQL functions the backend calls.';

revoke all on schema chat from public;
grant usage on schema chat to chat_app, chat_auditor;

commit;
