#!/usr/bin/env bash
# Commit order with EVENT_BUS=nats: the event lock, or PostgreSQL's logical decoding? Measures, on
# this machine, what the event lock and NOTIFY cost the placement and what a logical decoding
# consumer costs (docs/architecture.md, "Commit order with EVENT_BUS=nats"). Not part of
# `make test` or `make bench`; about 6 minutes with the defaults.
#
# End to end, on a throwaway PostgreSQL cluster of its own (never the one on 5432):
#   1. initdb into a temporary folder under /tmp (as LD_PG_USER when run as root: PostgreSQL
#      refuses to run as root), listening on 127.0.0.1:LD_PORT only, wal_level=logical,
#      fsync and synchronous_commit on, shared_buffers 256MB; password authentication with a
#      random password;
#   2. every migrations/*/up.sql in name order, then bench/sql/pgbench-setup.sql (1000 customers,
#      200 products);
#   3. LD_ROUNDS rounds of the runs LD_RUNS, interleaved (a b c d a b c d), each pgbench
#      -c LD_CLIENTS -j 2 -T LD_SECONDS after a CHECKPOINT:
#        a  bench/sql/placement-server.sql (the event lock and pg_notify in both transactions);
#        b  bench/sql/placement-no-lock.sql (the same without them);
#        c  b while pg_recvlogical (test_decoding) follows a logical replication slot;
#        d  a while pg_recvlogical follows the slot;
#      for c and d the slot is created before the run and dropped after it (pg_recvlogical -s 1:
#      it confirms once a second), and the script reports the decoder's lag
#      (pg_current_wal_lsn() - the walsender's sent_lsn: WAL not yet decoded and sent) sampled every
#      2 s during the run, at its end and 3 s later (with the slot's lag, pg_current_wal_lsn() -
#      confirmed_flush_lsn), how long the walsender took after the run to send everything written
#      during it, the order_events inserts pg_recvlogical received against the rows inserted, and
#      the CPU used by the walsender and by pg_recvlogical (percent of one core over the run);
#   4. prints the table (also written to the work folder's results.md, printed path) and stops
#      and deletes the cluster (also on failure or Ctrl-C).
#
# Settings (environment):
#   LD_PORT=54410  LD_SECONDS=30  LD_ROUNDS=2  LD_CLIENTS=16  LD_RUNS="a b c d"
#   LD_PROTOCOL=prepared pgbench -M, as make bench (the scripts need prepared or extended: with
#                        simple, the uuid variable :id is pasted unquoted and the query fails)
#   LD_PG_BIN=/usr/lib/postgresql/15/bin   LD_PG_USER=omspg (the server's OS user when run as root)
#   LD_WAL_LEVEL=logical replica: a and b as PostgreSQL runs by default (c and d need logical)
#   LD_KEEP=1            keep the work folder (pgbench logs, decoded output, server log)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

readonly PG_BIN="${LD_PG_BIN:-/usr/lib/postgresql/15/bin}"
readonly PG_USER="${LD_PG_USER:-omspg}"
readonly PORT="${LD_PORT:-54410}"
readonly SECS="${LD_SECONDS:-30}"
readonly ROUNDS="${LD_ROUNDS:-2}"
readonly CLIENTS="${LD_CLIENTS:-16}"
readonly RUNS="${LD_RUNS:-a b c d}"
readonly PROTOCOL="${LD_PROTOCOL:-prepared}"
readonly KEEP="${LD_KEEP:-0}"
readonly WAL_LEVEL="${LD_WAL_LEVEL:-logical}"
readonly SLOT=oms_ld
readonly DB=oms

WORK=""
RECV_PID=""
SERVER_STARTED=0

step_tag() { date -u +%T; }

# Runs a server program ($@) as the cluster's owner.
as_pg() {
  if is_root; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
  local status=$?
  set +e
  stop_pid "$RECV_PID" 50
  if [ "$SERVER_STARTED" = 1 ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then
      rm -rf "$WORK/data"
      say "kept $WORK (the cluster's data deleted)"
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$status"
}

start_cluster() {
  WORK="$(mktemp -d /tmp/oms-logical.XXXXXX)"
  is_root && chown "$PG_USER" "$WORK"
  mkdir -p "$WORK/logs"
  random_hex 16 >"$WORK/pw"
  is_root && chown "$PG_USER" "$WORK/pw"
  PGPASSWORD="$(cat "$WORK/pw")"
  export PGPASSWORD PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres PGDATABASE="$DB"
  port_in_use "$PORT" && die "something already listens on 127.0.0.1:$PORT (LD_PORT)"
  local owner
  owner="$(id -un)"
  is_root && owner="$PG_USER"
  step "initdb into $WORK/data (as $owner)"
  as_pg "$PG_BIN/initdb" -D "$WORK/data" -U postgres --pwfile="$WORK/pw" -A scram-sha-256 \
    -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
  as_pg tee -a "$WORK/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
max_connections = 50
shared_buffers = 256MB
wal_level = $WAL_LEVEL
max_replication_slots = 4
max_wal_senders = 4
fsync = on
synchronous_commit = on
EOF
  step "starting the cluster on 127.0.0.1:$PORT"
  SERVER_STARTED=1
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null \
    || { cat "$WORK/server.log" >&2; die "the cluster did not start"; }
}

load_schema() {
  local f
  step "schema: migrations/*/up.sql; seed: bench/sql/pgbench-setup.sql"
  psql_q -d postgres -c "CREATE DATABASE $DB"
  for f in "$ROOT"/migrations/*/up.sql; do
    psql_q -1 -f "$f" >/dev/null
  done
  psql_q -v customers=1000 -v products=200 -v hot=0 -v stock=100000000 -v hot_stock=0 \
    -f "$ROOT/bench/sql/pgbench-setup.sql" >/dev/null
  read -r PFIRST PLAST <<<"$(psql_q -F ' ' -c "SELECT min(id), max(id) FROM products WHERE sku LIKE 'BENCH-P%'")"
  read -r UFIRST ULAST <<<"$(psql_q -F ' ' -c "SELECT min(id), max(id) FROM users WHERE email LIKE 'bench-customer-%'")"
  psql_q -c "VACUUM ANALYZE" >/dev/null
}

# CPU time (utime + stime, clock ticks) of process $1, 0 when gone.
cpu_ticks() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
  stat="${stat##*) }"
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  echo $(( ${12} + ${13} ))
}

# Bytes of WAL the slot's consumer has not confirmed yet (pg_recvlogical confirms once a second).
human() { numfmt --to=iec "$1"; }

slot_lag() {
  psql_q -c "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), -1)::bigint FROM pg_replication_slots WHERE slot_name = '$SLOT'"
}

# Bytes of WAL the walsender has not decoded and sent yet (its sent_lsn).
decoder_lag() {
  psql_q -c "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn), -1)::bigint FROM pg_stat_replication WHERE application_name = 'pg_recvlogical'"
}

start_consumer() {
  local tries=0
  psql_q -c "SELECT pg_create_logical_replication_slot('$SLOT', 'test_decoding')" >/dev/null
  pg_recvlogical -d "$DB" --slot "$SLOT" --start -n -s 1 -F 0 \
    -o skip-empty-xacts=1 -o include-xids=0 -f "$1" 2>"$1.err" &
  RECV_PID=$!
  until [ "$(psql_q -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_recvlogical'")" = 1 ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || die "pg_recvlogical did not connect: $(cat "$1.err")"
    sleep 0.1
  done
  WALSENDER_PID="$(psql_q -c "SELECT pid FROM pg_stat_replication WHERE application_name = 'pg_recvlogical'")"
}

stop_consumer() {
  stop_pid "$RECV_PID" 50
  RECV_PID=""
  psql_q -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
}

# One run: $1 label (a b c d), $2 round.
run() {
  local label="$1" round="$2" script decode=0 prefix out events_before events_after
  case "$label" in
    a) script=placement-server.sql ;;
    b) script=placement-no-lock.sql ;;
    c) script=placement-no-lock.sql; decode=1 ;;
    d) script=placement-server.sql; decode=1 ;;
    *) die "unknown run $label (LD_RUNS takes a, b, c, d)" ;;
  esac
  [ "$decode" = 0 ] || [ "$WAL_LEVEL" = logical ] || die "run $label needs LD_WAL_LEVEL=logical"
  prefix="$WORK/logs/$label$round"
  out="$WORK/decoded-$label$round.txt"
  psql_q -c "CHECKPOINT"
  events_before="$(psql_q -c "SELECT coalesce(max(id), 0) FROM order_events")"
  local ws0=0 rc0=0 wsp=""
  if [ "$decode" = 1 ]; then
    start_consumer "$out"
    wsp="$WALSENDER_PID"
    ws0="$(cpu_ticks "$wsp")"; rc0="$(cpu_ticks "$RECV_PID")"
  fi
  local load others t0 t1
  load="$(cut -d' ' -f1 /proc/loadavg)"
  others="$(pgrep -c -x rustc || true)"
  step "run $label (round $round): $script$([ "$decode" = 1 ] && echo ', slot followed by pg_recvlogical'), $CLIENTS clients, ${SECS} s"
  t0="$(date +%s.%N)"
  pgbench -n -M "$PROTOCOL" -c "$CLIENTS" -j 2 -T "$SECS" -f "$ROOT/bench/sql/$script" \
    -D pfirst="$PFIRST" -D plast="$PLAST" -D ufirst="$UFIRST" -D ulast="$ULAST" \
    -l --log-prefix="$prefix" >"$prefix.out" 2>"$prefix.err" &
  local bench_pid=$! max_lag=0 lag
  while kill -0 "$bench_pid" 2>/dev/null; do
    if [ "$decode" = 1 ]; then
      lag="$(decoder_lag)"
      if [ "$lag" -gt "$max_lag" ]; then max_lag="$lag"; fi
    fi
    sleep 2
  done
  wait "$bench_pid" || { cat "$prefix.err" >&2; die "pgbench failed (run $label)"; }
  t1="$(date +%s.%N)"

  local tps avg failed p50 p99 end_lag="" lag3="" catchup="" ws_cpu="" rc_cpu="" decoded="" inserted
  tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$prefix.out")"
  tps="$(printf '%.1f' "$tps")"
  avg="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$prefix.out")"
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$prefix.out")"
  read -r p50 p99 <<<"$(cat "$prefix".[0-9]* | awk '{print $3}' | sort -n \
    | awk '{v[NR]=$1} END {i50=int(NR*0.50); i99=int(NR*0.99); if (i50<1) i50=1; if (i99<1) i99=1; printf "%.1f %.1f\n", v[i50]/1000, v[i99]/1000}')"
  events_after="$(psql_q -c "SELECT coalesce(max(id), 0) FROM order_events")"
  inserted="$(psql_q -c "SELECT count(*) FROM order_events WHERE id > $events_before")"
  if [ "$decode" = 1 ]; then
    local end_lsn waited=0 ticks
    ticks="$(getconf CLK_TCK)"
    ws_cpu="$(awk -v a="$ws0" -v b="$(cpu_ticks "$wsp")" -v t="$ticks" -v s="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" 'BEGIN{printf "%.0f%%", 100*(b-a)/t/s}')"
    rc_cpu="$(awk -v a="$rc0" -v b="$(cpu_ticks "$RECV_PID")" -v t="$ticks" -v s="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" 'BEGIN{printf "%.0f%%", 100*(b-a)/t/s}')"
    end_lsn="$(psql_q -c "SELECT pg_current_wal_lsn()")"
    end_lag="$(decoder_lag)/$(slot_lag)"
    # Caught up: the walsender decoded and sent everything written up to the end of the run.
    while [ "$(psql_q -c "SELECT sent_lsn >= '$end_lsn' FROM pg_stat_replication WHERE application_name = 'pg_recvlogical'")" != t ] \
      && [ "$waited" -lt 600 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    catchup="$(awk -v w="$waited" 'BEGIN{printf "%.1f", w/10}')"
    if [ "$waited" -ge 600 ]; then catchup="over $catchup"; fi
    sleep "$(awk -v w="$waited" 'BEGIN{r=3-w/10; print (r>0)?r:0}')"
    lag3="$(decoder_lag)/$(slot_lag)"
    stop_consumer
    decoded="$(grep -c '^table public.order_events: INSERT' "$out" || true)"
    max_lag="$(human "$max_lag")"
    end_lag="$(human "${end_lag%/*}")/$(human "${end_lag#*/}")"
    lag3="$(human "${lag3%/*}")/$(human "${lag3#*/}")"
    decoded="$decoded/$inserted"
    [ "$KEEP" = 1 ] || rm -f "$out"
  else
    max_lag=""
  fi
  [ "$events_after" -ge "$events_before" ] || die "order_events went backwards"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
    "$label" "$round" "$script" "$tps" "$avg" "$p50" "$p99" "${failed:-0}" "$inserted" \
    "$ws_cpu" "$rc_cpu" "$max_lag" "$end_lag" "$lag3" "$catchup" "$decoded load $load, rustc $others" \
    >>"$WORK/rows.md"
}

main() {
  command -v pgbench >/dev/null || die "pgbench not found (apt-get install postgresql-client)"
  command -v pg_recvlogical >/dev/null || PATH="$PG_BIN:$PATH"
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server programs in $PG_BIN (LD_PG_BIN)"
  if is_root; then id "$PG_USER" >/dev/null 2>&1 || die "no OS user $PG_USER to run PostgreSQL (LD_PG_USER)"; fi
  [ -f "$ROOT/bench/sql/placement-no-lock.sql" ] || die "bench/sql/placement-no-lock.sql is missing"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  start_cluster
  load_schema
  : >"$WORK/rows.md"
  local round label
  for round in $(seq 1 "$ROUNDS"); do
    for label in $RUNS; do run "$label" "$round"; done
  done
  {
    printf '%s, %s cores, %s; %s\n' "$(date -u +%FT%TZ)" "$(nproc)" \
      "$(psql_q -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', wal_level ' || current_setting('wal_level') || ', fsync ' || current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit') || ', shared_buffers ' || current_setting('shared_buffers')")" \
      "pgbench -n -M $PROTOCOL -c $CLIENTS -j 2 -T $SECS (a pgbench transaction = one placement: 2 database transactions, 2 events)"
    echo
    echo '| run | round | script | tps | lat avg ms | p50 ms | p99 ms | failed | events | walsender CPU | recvlogical CPU | max decoder lag during | lag at end (decoder/confirmed) | lag +3 s (decoder/confirmed) | decoder catch-up s | decoded/inserted, machine |'
    echo '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
    cat "$WORK/rows.md"
  } | tee "$WORK/results.md"
}

main "$@"
