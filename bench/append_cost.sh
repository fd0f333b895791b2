#!/usr/bin/env bash
# Where an append's server time goes, beside the one-table store it is
# compared with: pgbench with 8 clients, as the runtime role, on one private
# durable cluster (fsync on, as make bench), rounds interleaving the subjects
# so that all see the same server, the same table growth and the same noise.
#
#   bench/append_cost.sh [ROUNDS] [SECONDS]     (defaults: 4 rounds of 10 s each)
#
# Subjects, each one transaction:
#   one_table       langchain-postgres's append: one insert into one table
#                   (serial id, session index, the message as jsonb)
#   counter         the append's update of its conversation alone (message_count
#                   and updated_at), under RLS: not a HOT update, updated_at is
#                   in two indexes
#   counter_hot     the same update but for updated_at: a HOT update, what the
#                   counter would cost were updated_at in no index
#   update_insert   that update and the message's insert in one statement, under
#                   RLS: the append without its function and argument checks
#   append_message  chat.append_message, as the Python layer calls it
#   without_search  the same, in a database without the search index
#   without_fk      the same, without the foreign key to the conversation
#   without_pkey    the same, without the primary key (user_id, id)
# Prints each round's transactions per second and, per subject, the median
# and its ratio to one_table.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4} seconds=${2:-10}

. bench/append_cluster.sh
start_append_cluster append-cost
# the append without one of its pieces, each in a database of its own
deploy_database without_search
psql -X -q -d without_search -c "drop index chat.messages_search_idx"
deploy_database without_fk
psql -X -q -d without_fk -c "alter table chat.messages drop constraint messages_conversation_fkey"
deploy_database without_pkey
psql -X -q -d without_pkey -c "alter table chat.messages drop constraint messages_pkey"
# the one-table store
one_table_store chat

content='Could you move my dentist appointment to Friday afternoon and remind me to buy milk, eggs and bread on the way home? Also what is on my list for the weekend trip to the lake with the kids, and did I already book the cabin or is that still open?'
cat > "$scratch/one_table.sql" <<SQL
$header
insert into message_store (session_id, message)
values ($conversation, jsonb_build_object('type', 'human', 'data', jsonb_build_object('content', '$content',
        'additional_kwargs', '{}'::jsonb, 'response_metadata', '{}'::jsonb, 'type', 'human', 'name', null, 'id', null)));
SQL
cat > "$scratch/counter.sql" <<SQL
$header
\startpipeline
select set_config('app.user_id', $user, true);
update chat.conversations c set message_count = c.message_count, updated_at = greatest(c.updated_at, clock_timestamp())
 where c.user_id = chat_private.current_user_id() and c.id = $conversation;
\endpipeline
SQL
cat > "$scratch/counter_hot.sql" <<SQL
$header
\startpipeline
select set_config('app.user_id', $user, true);
update chat.conversations c set message_count = c.message_count
 where c.user_id = chat_private.current_user_id() and c.id = $conversation;
\endpipeline
SQL
cat > "$scratch/update_insert.sql" <<SQL
$header
\startpipeline
select set_config('app.user_id', $user, true);
with bumped as (
  update chat.conversations c set message_count = c.message_count + 1, updated_at = greatest(c.updated_at, clock_timestamp())
   where c.user_id = chat_private.current_user_id() and c.id = $conversation
  returning c.id, c.user_id, c.message_count, c.updated_at)
insert into chat.messages (conversation_id, user_id, seq, role, content, metadata, client_msg_id, created_at)
select id, user_id, message_count, 'user', '$content', '{}', null, updated_at from bumped returning *;
\endpipeline
SQL
cat > "$scratch/append_message.sql" <<SQL
$header
\startpipeline
select set_config('app.user_id', $user, true);
select * from chat.append_message($conversation, 'user', '$content', '{}', null);
\endpipeline
SQL

subjects=(one_table counter counter_hot update_insert append_message without_search without_fk without_pkey)
for round in $(seq "$rounds"); do
  for subject in "${subjects[@]}"; do
    script=$subject database=chat
    [[ $subject == without_* ]] && script=append_message database=$subject
    tps=$(PGPASSWORD=bench "$pgbench" -n -M prepared -c 8 -j 2 -T "$seconds" -f "$scratch/$script.sql" \
            -U bench_app "$database" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $round $subject: $tps transactions/s"
    echo "$subject $tps" >> "$scratch/results"
  done
done
psql -X -q -d chat -At -c "select 'conversation updates: ' || n_tup_upd || ', of which HOT: ' || n_tup_hot_upd
                             from pg_stat_user_tables where relid = 'chat.conversations'::regclass"

base=$(median one_table)
for subject in "${subjects[@]}"; do
  m=$(median "$subject")
  echo "median $subject: $m transactions/s, $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", a / b}') of one_table"
done
