#!/usr/bin/env bash
# What one server holds of each operation of the API: pgbench with 8 clients
# as the runtime role, each operation as the Python layer sends it (the user
# set for the transaction, then the function), on one private durable cluster
# (fsync on, as make bench), rounds interleaving the operations so that all
# see the same server and the same noise. docs/scaling.md turns the figures
# into what a compute of a given size holds.
#
#   bench/capacity.sh [ROUNDS] [SECONDS]     (defaults: 3 rounds of 10 s each)
#
# Data: 100 users of 10 conversations of 100 messages each (100,000 messages).
# Operations, each one pgbench transaction:
#   create_conversation   a new conversation of a random user
#   append_message        one message appended to a random conversation
#   turn                  a chat turn as the service runs it: begin_turn (the
#                         user's message stored, the turn claimed, the last 50
#                         read) then finish_turn (the reply stored), two
#                         transactions
#   fetch_recent          the last 50 messages of a random conversation
#   fetch_messages        a page of 100
#   list_conversations    a user's 20 latest conversations
#   search_messages       a full-text search of a user's messages, a word that
#                         20 of their 1,000 messages have (a word all of them
#                         have costs 25 times as much: every match is ranked)
# Prints each round's rate and, per operation, the median of the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} seconds=${2:-10}

. bench/append_cluster.sh
start_append_cluster capacity
psql -X -q -d chat <<'SQL'
insert into chat.messages (conversation_id, user_id, seq, role, content)
select c.id, c.user_id, s, case when s % 2 = 1 then 'user' else 'assistant' end,
       'remind me to buy milk and eggs, message ' || s || ' of a conversation about topic' || s % 50
  from chat.conversations c, generate_series(1, 100) s;
update chat.conversations set message_count = 100;
vacuum analyze;
SQL

content='Could you move my dentist appointment to Friday afternoon and remind me to buy milk, eggs and bread on the way home?'
call() {  # call NAME SQL: a script of one pipeline, the user set and the call
  printf '%s\n\\startpipeline\nselect set_config('"'"'app.user_id'"'"', %s, true);\n%s;\n\\endpipeline\n' \
    "$header" "$user" "$2" > "$scratch/$1.sql"
}
call create_conversation "select * from chat.create_conversation('a new one')"
call append_message "select * from chat.append_message($conversation, 'user', '$content', '{}', null)"
call fetch_recent "select * from chat.fetch_recent($conversation, 50)"
call fetch_messages "select * from chat.fetch_messages($conversation, 0, 100)"
call list_conversations "select * from chat.list_conversations(20)"
call search_messages "select * from chat.search_messages('topic7', 20)"
# the turn: pgbench takes a result into a variable outside a pipeline only
cat > "$scratch/turn.sql" <<SQL
$header
begin;
select set_config('app.user_id', $user, true);
select max(seq) filter (where part = 'user') as seq from chat.begin_turn($conversation, '$content') \gset
commit;
\startpipeline
select set_config('app.user_id', $user, true);
select * from chat.finish_turn($conversation, :seq, 'Done: the dentist is on Friday at 3 pm, and milk is on the list.');
\endpipeline
SQL

subjects=(create_conversation append_message turn fetch_recent fetch_messages list_conversations search_messages)
for round in $(seq "$rounds"); do
  for subject in "${subjects[@]}"; do
    tps=$(PGPASSWORD=bench "$pgbench" -n -M prepared -c 8 -j 2 -T "$seconds" -f "$scratch/$subject.sql" \
            -U bench_app chat | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $round $subject: $tps per second"
    echo "$subject $tps" >> "$scratch/results"
  done
done
psql -X -q -d chat -At -c "select 'messages at the end: ' || count(*) from chat.messages"
for subject in "${subjects[@]}"; do
  echo "median $subject: $(median "$subject") per second"
done
