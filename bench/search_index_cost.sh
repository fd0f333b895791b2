#!/usr/bin/env bash
# What the search index (messages_search_idx: GIN on user_id and the words of
# content) costs appends: pgbench appending with 8 clients, rounds alternating
# without and with the index on one private throw-away cluster, so that both
# see the same server, the same table growth and the same noise.
#
#   bench/search_index_cost.sh [ROUNDS] [SECONDS]     (defaults: 4 rounds of 20 s each way)
#
# Prints each round's throughput and the ratio of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4} seconds=${2:-20}

. bench/append_cluster.sh
start_append_cluster index-cost --throwaway

# the transaction the Python layer sends: the user, then the append, in one pipeline
cat > "$scratch/append.sql" <<'SQL'
\set u random(1, 100)
\set c random(1, 10)
\startpipeline
select set_config('app.user_id', '00000000-0000-0000-0000-' || lpad(:u::text, 12, '0'), true);
select * from chat.append_message(('00000000-0000-0000-0001-' || lpad((:u * 100 + :c)::text, 12, '0'))::uuid, 'user', 'Could you move my dentist appointment to Friday afternoon and remind me to buy milk, eggs and bread on the way home? Also what is on my list for the weekend trip to the lake with the kids, and did I already book the cabin or is that still open?', '{}', null);
\endpipeline
SQL

index_sql="create index messages_search_idx on chat.messages
             using gin (user_id, (pg_catalog.to_tsvector('simple'::regconfig, content)))"
for round in $(seq "$rounds"); do
  for phase in without with; do
    if [[ $phase == without ]]; then
      psql -X -q -d chat -c "drop index chat.messages_search_idx"
    else
      psql -X -q -d chat -c "$index_sql"
    fi
    tps=$(PGPASSWORD=bench "$pgbench" -n -M prepared -c 8 -j 2 -T "$seconds" -f "$scratch/append.sql" \
            -U bench_app chat 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $round $phase index: $tps appends/s"
    echo "$phase $tps" >> "$scratch/results"
  done
done

with=$(median with) without=$(median without)
echo "median appends/s: without the index $without, with it $with; with / without = $(awk -v a="$with" -v b="$without" 'BEGIN {printf "%.2f", a / b}')"
