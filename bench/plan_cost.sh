#!/usr/bin/env bash
# What the plan's later changes did to the cost of a write: the plan deployed
# up to FROM in one database and whole in another of the same private
# durable cluster (fsync on, as make bench), pgbench with 8 clients as the
# runtime role sending each write as the Python layer does (the user set for
# the transaction, then the function, in one pipeline), rounds interleaving
# the two databases and the subjects so that all see the same server and the
# same noise. The one-table store (langchain-postgres's insert) runs in the
# second database, as the yardstick.
#
#   bench/plan_cost.sh [FROM] [ROUNDS] [SECONDS]     (defaults: @v0.4.0, 4 rounds of 10 s each)
#
# Subjects, each one transaction:
#   append        append_message of a 233-character message, metadata {}
#   append_item   the same message as an agent's session stores it: the item,
#                 about 400 bytes, in the metadata
#   append4       append_messages of a 4-item turn (the user's words, a tool
#                 call, its output, the reply)
#   one_table     one insert into one table, the message as jsonb
#   one_table4    four such rows in one insert
# Prints each round's transactions per second and, per subject, the median
# before and after, their ratio, and the ratio to the one-table store.
set -euo pipefail
cd "$(dirname "$0")/.."
from=${1:-@v0.4.0} rounds=${2:-4} seconds=${3:-10}

. bench/append_cluster.sh
start_append_cluster plan-cost
deploy_database before "$from"
one_table_store chat

content='Could you move my dentist appointment to Friday afternoon and remind me to buy milk, eggs and bread on the way home? Also what is on my list for the weekend trip to the lake with the kids, and did I already book the cabin or is that still open?'
item='{"agents_item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "CONTENT"}]}}'
item=${item/CONTENT/$content}
turn=$(cat <<'JSON'
[{"role": "user", "content": "CONTENT"},
 {"role": "assistant", "content": "add_task({\"title\": \"renew the car insurance\"})",
  "metadata": {"agents_item": {"type": "function_call", "call_id": "call_1", "name": "add_task",
                               "arguments": "{\"title\": \"renew the car insurance\"}"}}},
 {"role": "tool", "content": "{\"id\": 42}",
  "metadata": {"agents_item": {"type": "function_call_output", "call_id": "call_1", "output": "{\"id\": 42}"}}},
 {"role": "assistant", "content": "Added: renew the car insurance."}]
JSON
)
turn=${turn/CONTENT/$content}
pipeline() {
  printf '%s\n\\startpipeline\nselect set_config('"'"'app.user_id'"'"', %s, true);\n%s;\n\\endpipeline\n' \
    "$header" "$user" "$1"
}
pipeline "select * from chat.append_message($conversation, 'user', '$content', '{}', null)" > "$scratch/append.sql"
pipeline "select * from chat.append_message($conversation, 'user', '$content', '$item', null)" > "$scratch/append_item.sql"
pipeline "select * from chat.append_messages($conversation, '$turn')" > "$scratch/append4.sql"
message="jsonb_build_object('type', 'human', 'data', jsonb_build_object('content', '$content',
         'additional_kwargs', '{}'::jsonb, 'response_metadata', '{}'::jsonb, 'type', 'human', 'name', null, 'id', null))"
printf '%s\ninsert into message_store (session_id, message) values (%s, %s);\n' \
  "$header" "$conversation" "$message" > "$scratch/one_table.sql"
printf '%s\ninsert into message_store (session_id, message) values (%s, %s), (%s, %s), (%s, %s), (%s, %s);\n' \
  "$header" "$conversation" "$message" "$conversation" "$message" "$conversation" "$message" \
  "$conversation" "$message" > "$scratch/one_table4.sql"

# every script runs once in each database it belongs to before the rounds: an error shows here, not as 0/s
runs=(before:append chat:append before:append_item chat:append_item before:append4 chat:append4
      chat:one_table chat:one_table4)
for run in "${runs[@]}"; do
  PGPASSWORD=bench "$pgbench" -n -M prepared -c 1 -t 1 -f "$scratch/${run#*:}.sql" -U bench_app "${run%%:*}" \
    >/dev/null
done
for round in $(seq "$rounds"); do
  order=("${runs[@]}")
  (( round % 2 )) || order=($(printf '%s\n' "${runs[@]}" | tac))
  for run in "${order[@]}"; do
    tps=$(PGPASSWORD=bench "$pgbench" -n -M prepared -c 8 -j 2 -T "$seconds" -f "$scratch/${run#*:}.sql" \
            -U bench_app "${run%%:*}" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $round $run: $tps transactions/s"
    echo "$run $tps" >> "$scratch/results"
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
for subject in append append_item append4; do
  b=$(median "before:$subject") a=$(median "chat:$subject")
  yardstick=$(median "chat:one_table$([[ $subject == append4 ]] && echo 4)")
  echo "median $subject: $b before ($from), $a after: $(ratio "$a" "$b") times;" \
       "after / the one-table store: $(ratio "$a" "$yardstick")"
done
echo "median one_table: $(median chat:one_table), one_table4: $(median chat:one_table4) transactions/s"
