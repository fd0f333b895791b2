# Sourced by the pgbench measurements (search_index_cost.sh, append_cost.sh,
# capacity.sh, plan_cost.sh): a private cluster for the run, removed after it,
# with the plan deployed and 100 users of 10 conversations each, and the
# runtime login bench_app (password bench) granted chat_app, as the service
# logs in.
#
#   start_append_cluster NAME [pg-cluster start options]…
#
# sets scratch (the run's directory) and pgbench; deploy_database DB [TO]
# makes another database of the cluster the same way (the plan up to TO when
# given); one_table_store DB makes there the one-table store the append is
# compared with (langchain-postgres's message_store); median SUBJECT prints
# the median of the numbers written as "SUBJECT number" lines in
# $scratch/results.
# For the pgbench scripts: header picks a random user (:u) and one of their
# conversations (:c); user and conversation are their ids as SQL expressions.

header='\set u random(1, 100)
\set c random(1, 10)'
user="'00000000-0000-0000-0000-' || lpad(:u::text, 12, '0')"
conversation="('00000000-0000-0000-0001-' || lpad((:u * 100 + :c)::text, 12, '0'))::uuid"

start_append_cluster() {
  local name=$1
  shift
  scratch=$(mktemp -d "/tmp/chat-$name.XXXXXX")
  chmod 755 "$scratch"   # as root, the server runs as postgres and must reach it
  trap 'scripts/pg-cluster stop "$scratch/pg"; rm -rf "$scratch"' EXIT
  eval "$(scripts/pg-cluster start "$scratch/pg" "$@")"
  pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)

  deploy_database chat
  psql -X -q -c "create role bench_app login password 'bench' in role chat_app"
}

deploy_database() {
  local database=$1 to=${2:-}
  psql -X -q -c "create database $database"
  SQITCH_USER_CONFIG=/dev/null sqitch deploy ${to:+--to "$to"} "db:pg://postgres@$PGHOST:$PGPORT/$database" >/dev/null
  psql -X -q -d "$database" <<'SQL'
insert into chat.users (id)
select ('00000000-0000-0000-0000-' || lpad(u::text, 12, '0'))::uuid from generate_series(1, 100) u;
insert into chat.conversations (id, user_id)
select ('00000000-0000-0000-0001-' || lpad((u * 100 + c)::text, 12, '0'))::uuid,
       ('00000000-0000-0000-0000-' || lpad(u::text, 12, '0'))::uuid
  from generate_series(1, 100) u, generate_series(1, 10) c;
SQL
}

one_table_store() {
  psql -X -q -d "$1" <<'SQL'
create table public.message_store (id serial primary key, session_id uuid not null, message jsonb not null,
                                   created_at timestamptz not null default now());
create index on public.message_store (session_id);
grant select, insert on public.message_store to bench_app;
grant usage on sequence public.message_store_id_seq to bench_app;
SQL
}

median() {
  grep "^$1 " "$scratch/results" | cut -d' ' -f2 | sort -n \
    | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}
