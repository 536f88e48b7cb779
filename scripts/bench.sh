#!/usr/bin/env bash
# `make bench`: the server against the database's own limit, on this machine, in one run.
#
# Builds `oms` and the load generator `oms-bench` (bench/) in release (not timed), finds
# PostgreSQL through scripts/db.sh, and runs, each scenario for BENCH_SECONDS, loopback only:
#   1. order placement over HTTP at each of BENCH_CONNECTIONS, each followed by pgbench at the
#      same concurrency running (a) the server's own statements for one placement, (b) the
#      naive statement-per-row version and (c) an order's minimal writes as one 10-round-trip
#      transaction with no event (bench/sql/), in a database of their own; the server's CPU time
#      per placement is printed too;
#   2. contended placement (every client buys the same 5 products), then a stock check in SQL;
#   3. GET /api/products and GET /api/orders/{id};
#   3b. a partial shipment, then a refund (restock cancel) of each of the orders placed in 1;
#   4. BENCH_WS_CLIENTS WebSocket clients and status changes at BENCH_WS_RATE per second;
#   5. the CSV export of a 1,000,000-order database, on a server started fresh for it, paired with
#      psql running the server's own COPY statement (bench/sql/export-copy.sql) on the same
#      database into /dev/null, timed before and after the export (the faster one is reported);
#   6. the server's memory, idle and under load 1 (measured during 1);
#   7. webhook delivery on a server started fresh for it (WEBHOOK_ALLOW_PRIVATE/HTTP on, a short
#      WEBHOOK_RETRY_SCHEDULE): a plain reqwest client's baseline, then BENCH_WEBHOOK_EVENTS events
#      to a receiver answering 200, the same to one answering 500 to 10%, and
#      BENCH_WEBHOOK_RATE events/s for BENCH_WEBHOOK_SECONDS (about 1 minute in all).
# The 1,000,000-order database is generated once into the template database BENCH_TEMPLATE and
# copied (CREATE DATABASE ... TEMPLATE) for each run; generating it takes about 5 minutes and is
# not part of a run's time. The bench database BENCH_DB (and BENCH_DB_pg for pgbench) is
# recreated on every run. The table is printed and written to bench/results/<UTC time>.md.
#
# Settings (environment):
#   BENCH_SECONDS=15            duration of each scenario (3 for a quick smoke run)
#   BENCH_CONNECTIONS="16 64"   concurrent connections of scenarios 1 and 2
#   BENCH_WS_CLIENTS=1000       WebSocket clients (10000 works too: opt in)
#   BENCH_WS_RATE=20            status changes per second in scenario 4
#   BENCH_EXPORT_SECONDS=120    bound of the export (the whole export takes 30-45 s here)
#   BENCH_SKIP_EXPORT=1         skip scenario 5 (and the template)
#   BENCH_ONLY=export           run scenario 5 alone (with the template; nothing else is set up)
#   BENCH_OMS=path              an `oms` executable to measure instead of the one built (e.g. an
#                               older commit's release build, for a before/after); oms-bench is
#                               still built from the tree
#   BENCH_WEBHOOK_EVENTS=20000  events of the webhook throughput scenarios (7)
#   BENCH_WEBHOOK_RATE=200, BENCH_WEBHOOK_SECONDS=10   the paced webhook latency scenario
#   BENCH_WEBHOOK_SCHEDULE=100ms,200ms,400ms,800ms,1600ms   WEBHOOK_RETRY_SCHEDULE of every server
#   BENCH_WEBHOOK_CONCURRENCY=16   WEBHOOK_CONCURRENCY of every server (and the baseline's)
#   BENCH_SKIP_WEBHOOKS=1       skip scenario 7
#   BENCH_SKIP_BUS=1            skip scenario 4b (three instances per EVENT_BUS; NATS on
#                               127.0.0.1:4222, else a private nats-server)
#   BENCH_BUS_CONNECTIONS=64    placement connections of scenario 4b, over the three instances
#   BENCH_PORT=18490            the server's port (the export server uses the next one)
#   BENCH_DB=oms_bench, BENCH_TEMPLATE=oms_bench_1m_tpl, BENCH_TEMPLATE_ORDERS=1000000
#   BENCH_PGBENCH_PROTOCOL=prepared   pgbench -M (prepared: the database at its best)
#   BENCH_DB_POOL               DATABASE_MAX_CONNECTIONS of the server (default: the server's, 10)
#   BENCH_CAVEAT                a note for the results file (e.g. "other builds were running")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly SECS="${BENCH_SECONDS:-15}"
readonly CONNECTIONS="${BENCH_CONNECTIONS:-16 64}"
readonly WS_CLIENTS="${BENCH_WS_CLIENTS:-1000}"
readonly WS_RATE="${BENCH_WS_RATE:-20}"
readonly EXPORT_SECONDS="${BENCH_EXPORT_SECONDS:-120}"
readonly SKIP_EXPORT="${BENCH_SKIP_EXPORT:-0}"
readonly ONLY="${BENCH_ONLY:-}"
readonly WEBHOOK_EVENTS="${BENCH_WEBHOOK_EVENTS:-20000}"
readonly WEBHOOK_RATE="${BENCH_WEBHOOK_RATE:-200}"
readonly WEBHOOK_SECONDS="${BENCH_WEBHOOK_SECONDS:-10}"
# Six attempts: with 10% refused at random, about 1 event in a million is given up.
readonly WEBHOOK_SCHEDULE="${BENCH_WEBHOOK_SCHEDULE:-100ms,200ms,400ms,800ms,1600ms}"
readonly WEBHOOK_CONCURRENCY="${BENCH_WEBHOOK_CONCURRENCY:-16}"
readonly SKIP_WEBHOOKS="${BENCH_SKIP_WEBHOOKS:-0}"
readonly SKIP_BUS="${BENCH_SKIP_BUS:-0}"
readonly BUS_CONNECTIONS="${BENCH_BUS_CONNECTIONS:-64}"
BUS_PIDS=()
NATS_PID=""
readonly PORT="${BENCH_PORT:-18490}"
readonly EXPORT_PORT="$((PORT + 1))"
readonly DB="${BENCH_DB:-oms_bench}"
readonly PG_DB="${DB}_pg"
readonly EXPORT_DB="${DB}_export"
readonly TEMPLATE="${BENCH_TEMPLATE:-oms_bench_1m_tpl}"
readonly TEMPLATE_ORDERS="${BENCH_TEMPLATE_ORDERS:-1000000}"
readonly PROTOCOL="${BENCH_PGBENCH_PROTOCOL:-prepared}"
readonly ADMIN_EMAIL="admin@bench.local"
readonly ADMIN_PW="bench-admin-password" # a throwaway local database: not a secret
readonly CUSTOMERS=8 PRODUCTS=200 HOT=5 STOCK=2000000000 HOT_STOCK=100000000

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
readonly STAMP
readonly RUN_DIR="$ROOT/target/bench/$STAMP"
readonly RESULTS="$RUN_DIR/results.jsonl"
SERVER_PID=""
MAX_RUSTC=0
META=()

step_tag() { date -u +%T; }

# Builds oms and oms-bench in release; sets OMS and LOADGEN from cargo's artifact report.
build() {
  local exes
  step "building oms and oms-bench (release; not timed)"
  exes="$(cargo_build_executables --release -p api --bin oms -p bench --bin oms-bench)" \
    || die "cargo build failed"
  OMS="$(printf '%s\n' "$exes" | grep '/oms$' | tail -n 1)" || true
  LOADGEN="$(printf '%s\n' "$exes" | grep '/oms-bench$' | tail -n 1)" || true
  if [ ! -x "$OMS" ] || [ ! -x "$LOADGEN" ]; then
    die "cargo built no oms / oms-bench executable"
  fi
  if [ -n "${BENCH_OMS:-}" ]; then
    [ -x "$BENCH_OMS" ] || die "BENCH_OMS=$BENCH_OMS is not an executable"
    OMS="$BENCH_OMS"
    step "measuring $OMS (BENCH_OMS) instead of the build"
  fi
}

# The URL of database $1 on the server scripts/db.sh found.
db_url() { url_with_db "$PG_URL" "$1"; }

sql() { "$PSQL" "$(db_url "$1")" -v ON_ERROR_STOP=1 -qAtX "${@:2}"; }

recreate_db() {
  sql postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\" ${2:-}"
}

# Counts rustc processes now (other builds competing for the cores), keeping the maximum seen.
note_load() {
  local n
  n="$(pgrep -cx rustc || true)"
  [ "$n" -gt "$MAX_RUSTC" ] && MAX_RUSTC="$n"
  return 0
}

# The 1,000,000-order template: made once (about 5 minutes), then reused by every run.
ensure_template() {
  local building="${TEMPLATE}_building" url started took
  if [ "$(sql postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$TEMPLATE'")" = 1 ]; then
    upgrade_template
    return 0
  fi
  step "generating the template database $TEMPLATE ($TEMPLATE_ORDERS orders; once, not timed)"
  started="$(date +%s)"
  recreate_db "$building"
  url="$(db_url "$building")"
  DATABASE_URL="$url" RUST_LOG=warn "$OMS" migrate >&2
  DATABASE_URL="$url" RUST_LOG=warn "$OMS" seed-demo --orders "$TEMPLATE_ORDERS" >&2
  DATABASE_URL="$url" RUST_LOG=warn ADMIN_PASSWORD="$ADMIN_PW" \
    "$OMS" create-admin --email "$ADMIN_EMAIL" >&2
  # The server's housekeeping deletes events older than EVENT_RETENTION (30 days) at start-up:
  # do it here once, so that it does not run in the background of every export.
  sql "$building" -c "DELETE FROM order_events WHERE occurred_at < now() - interval '30 days'"
  sql "$building" -c "VACUUM ANALYZE"
  took="$(( $(date +%s) - started ))"
  sql postgres -c "ALTER DATABASE \"$building\" RENAME TO \"$TEMPLATE\"" \
    -c "COMMENT ON DATABASE \"$TEMPLATE\" IS '$TEMPLATE_ORDERS generated orders (oms seed-demo --orders), made $(date -u +%FT%TZ) in ${took} s'"
  step "template ready in ${took} s"
}

# A template made by an older version gets the newer migrations once, then VACUUM ANALYZE, so that
# no run migrates (and reads freshly rewritten, unvacuumed tables) in its own time.
upgrade_template() {
  local url before after
  url="$(db_url "$TEMPLATE")"
  before="$(sql "$TEMPLATE" -c "SELECT count(*) FROM __diesel_schema_migrations")"
  DATABASE_URL="$url" RUST_LOG=warn "$OMS" migrate >&2
  after="$(sql "$TEMPLATE" -c "SELECT count(*) FROM __diesel_schema_migrations")"
  if [ "$before" != "$after" ]; then
    step "template $TEMPLATE migrated ($before -> $after migrations); VACUUM ANALYZE (once)"
    sql "$TEMPLATE" -c "VACUUM ANALYZE"
  fi
}

# Starts `oms serve` on database $1, port $2, log $3; sets SERVER_PID once /healthz answers.
start_server() {
  local url addr="127.0.0.1:$2" tries=0 pool=()
  url="$(db_url "$1")"
  if port_in_use "$2"; then die "port $2 is taken (set BENCH_PORT)"; fi
  [ -n "${BENCH_DB_POOL:-}" ] && pool=(DATABASE_MAX_CONNECTIONS="$BENCH_DB_POOL")
  env APP_ENV=production RUST_LOG=warn \
    DATABASE_URL="$url" BIND_ADDR="$addr" \
    PUBLIC_ORIGIN="http://$addr" JWT_SECRET="$JWT_SECRET" \
    RATE_LIMIT_AUTH_PER_MINUTE=0 RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_ORDERS_PER_MINUTE=0 \
    PAYMENT_PROVIDER=simulated SIMULATED_PAYMENT_LATENCY_MS=0 ${pool[@]+"${pool[@]}"} \
    WEBHOOK_ALLOW_PRIVATE=true WEBHOOK_ALLOW_HTTP=true WEBHOOK_RETRY_SCHEDULE="$WEBHOOK_SCHEDULE" \
    WEBHOOK_CONCURRENCY="$WEBHOOK_CONCURRENCY" \
    "$OMS" serve >>"$3" 2>&1 &
  SERVER_PID=$!
  until BIND_ADDR="$addr" "$OMS" healthcheck >/dev/null 2>&1; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$3" >&2; die "oms serve exited (log: $3)"; }
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || die "oms serve did not answer /healthz within 30 s (log: $3)"
    sleep 0.1
  done
}

stop_server() {
  stop_pid "$SERVER_PID" 200
  SERVER_PID=""
}

cleanup() {
  stop_server
  local pid
  for pid in "${BUS_PIDS[@]}" "$NATS_PID"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  if [ -n "${PSQL:-}" ] && [ -n "${PG_URL:-}" ]; then
    sql postgres -c "DROP DATABASE IF EXISTS \"$EXPORT_DB\" WITH (FORCE)" 2>/dev/null || true
  fi
}

raise_fd_limit() {
  local hard want=$((2 * WS_CLIENTS + 1024))
  hard="$(ulimit -Hn)"
  if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then
    ulimit -n 65536
  else
    ulimit -n "$hard"
  fi
  [ "$(ulimit -n)" -ge "$want" ] || warn "open files limit $(ulimit -n) < $want: WebSocket clients may fail"
}

# oms-bench SUBCOMMAND ARGS..., its JSON line appended to the results. A failed measurement
# is reported (its figures show as "—") and the run goes on.
measure() {
  note_load
  "$LOADGEN" "$@" | tee -a "$RESULTS" >&2 || warn "oms-bench $1 failed (above)"
}

pgbench_run() {
  local label="$1" script="$2" connections="$3"
  step "pgbench ($label) $script, $connections connections, ${SECS} s"
  measure pgbench --pgbench "$PGBENCH" --label "$label" --clients "$connections" \
    --seconds "$SECS" --protocol "$PROTOCOL" --script "$ROOT/bench/sql/$script" \
    --url "$(db_url "$PG_DB")" --define "pfirst=$PFIRST" --define "plast=$PLAST" \
    --define "ufirst=$UFIRST" --define "ulast=$ULAST"
}

prepare_databases() {
  local ranges
  step "recreating $DB and $PG_DB"
  recreate_db "$DB"
  recreate_db "$PG_DB"
  DATABASE_URL="$(db_url "$DB")" RUST_LOG=warn "$OMS" migrate >&2
  DATABASE_URL="$(db_url "$PG_DB")" RUST_LOG=warn "$OMS" migrate >&2
  DATABASE_URL="$(db_url "$DB")" RUST_LOG=warn ADMIN_PASSWORD="$ADMIN_PW" \
    "$OMS" create-admin --email "$ADMIN_EMAIL" >&2
  sql "$PG_DB" -v customers="$CUSTOMERS" -v products="$PRODUCTS" -v hot="$HOT" \
    -v stock="$STOCK" -v hot_stock="$HOT_STOCK" -f "$ROOT/bench/sql/pgbench-setup.sql"
  ranges="$(sql "$PG_DB" -c "SELECT min(id) || ' ' || max(id) FROM products WHERE sku LIKE 'BENCH-P%'")"
  PG_PRODUCT_RANGE="$ranges"
}

stock_check() {
  sql "$DB" -v hot_stock="$HOT_STOCK" <<'SQL' | tee -a "$RESULTS" >&2
WITH hot AS (SELECT id, stock_quantity FROM products WHERE sku LIKE 'BENCH-HOT%'),
     sold AS (SELECT oi.product_id, sum(oi.quantity) AS units
                FROM order_items oi JOIN orders o ON o.id = oi.order_id
               WHERE o.status <> 'CANCELLED' AND oi.product_id IN (SELECT id FROM hot)
               GROUP BY oi.product_id)
SELECT json_build_object(
  'kind', 'stock_check',
  'products', count(*),
  'ok', bool_and(:hot_stock - h.stock_quantity = coalesce(s.units, 0)),
  'units_taken', sum(:hot_stock - h.stock_quantity),
  'units_sold', coalesce(sum(s.units), 0),
  'negative', count(*) FILTER (WHERE h.stock_quantity < 0),
  'orders', (SELECT count(DISTINCT order_id) FROM order_items
              WHERE product_id IN (SELECT id FROM hot)))
  FROM hot h LEFT JOIN sold s ON s.product_id = h.id;
SQL
}

main_scenarios() {
  local base="http://127.0.0.1:$PORT" c first=1
  step "starting oms serve on $base (database $DB)"
  start_server "$DB" "$PORT" "$RUN_DIR/server.log"
  sleep 1
  measure rss --pid "$SERVER_PID" --label started
  measure setup --base "$base" --admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PW" \
    --customers "$CUSTOMERS" --products "$PRODUCTS" --hot-products "$HOT" --stock "$STOCK" \
    --hot-stock "$HOT_STOCK" --out "$RUN_DIR/setup.json" --env-out "$RUN_DIR/setup.env"
  # shellcheck source=/dev/null
  . "$RUN_DIR/setup.env"
  [ "$PG_PRODUCT_RANGE" = "$PFIRST $PLAST" ] \
    || die "pgbench's products ($PG_PRODUCT_RANGE) are not the server's ($PFIRST $PLAST)"
  sleep 1
  measure rss --pid "$SERVER_PID" --label idle
  step "0. 3 rounds of 64 concurrent sign-ins, then the server's memory"
  measure signins --setup "$RUN_DIR/setup.json" --concurrency 64 --rounds 3 --pid "$SERVER_PID"

  for c in $CONNECTIONS; do
    step "1. placement over HTTP, $c connections, ${SECS} s"
    local keep=()
    # Every order of the first run (not only place's default 5,000): 3b ships and refunds
    # thousands of them, each once.
    [ "$first" = 1 ] && keep=(--orders-out "$RUN_DIR/orders.txt" --keep-orders 1000000)
    first=0
    measure place --setup "$RUN_DIR/setup.json" --label spread --mode spread \
      --connections "$c" --seconds "$SECS" --pid "$SERVER_PID" ${keep[@]+"${keep[@]}"}
    pgbench_run a placement-server.sql "$c"
    pgbench_run b placement-naive.sql "$c"
    pgbench_run c placement-minimal.sql "$c"
  done

  for c in $CONNECTIONS; do
    step "2. contended placement (5 products), $c connections, ${SECS} s"
    measure place --setup "$RUN_DIR/setup.json" --label hot --mode hot \
      --connections "$c" --seconds "$SECS" --pid "$SERVER_PID"
  done
  step "2. stock check"
  stock_check

  step "3. GET /api/products, 16 connections, ${SECS} s"
  measure reads --setup "$RUN_DIR/setup.json" --route products --connections 16 --seconds "$SECS"
  step "3. GET /api/orders/{id}, 16 connections, ${SECS} s"
  measure reads --setup "$RUN_DIR/setup.json" --route order --orders "$RUN_DIR/orders.txt" \
    --connections 16 --seconds "$SECS"

  step "3b. shipments and refunds over HTTP, 16 connections, ${SECS} s"
  measure fulfil --setup "$RUN_DIR/setup.json" --orders "$RUN_DIR/orders.txt" \
    --connections 16 --seconds "$SECS"

  step "4. real-time: $WS_CLIENTS WebSocket clients, $WS_RATE status changes/s, ${SECS} s"
  measure realtime --setup "$RUN_DIR/setup.json" --orders "$RUN_DIR/orders.txt" \
    --clients "$WS_CLIENTS" --rate "$WS_RATE" --seconds "$SECS" --pid "$SERVER_PID"
  sleep 1
  measure rss --pid "$SERVER_PID" --label end
  stop_server
}

# 7. Webhook delivery, on a server started fresh on the bench database (its earlier scenarios'
# orders and events stay; the bench's endpoints are inserted in SQL, see bench/src/webhooks.rs).
webhook_scenarios() {
  local url
  url="$(db_url "$DB")"
  step "7. webhooks: baseline, a plain reqwest client, $WEBHOOK_EVENTS posts, $WEBHOOK_CONCURRENCY at a time"
  measure webhooks --scenario baseline --events "$WEBHOOK_EVENTS" --concurrency "$WEBHOOK_CONCURRENCY"
  step "7. webhooks: starting oms serve on http://127.0.0.1:$PORT (database $DB)"
  start_server "$DB" "$PORT" "$RUN_DIR/webhooks-server.log"
  step "7. webhooks: $WEBHOOK_EVENTS events, receiver answering 200"
  measure webhooks --scenario throughput --db-url "$url" --events "$WEBHOOK_EVENTS"
  step "7. webhooks: $WEBHOOK_EVENTS events, receiver answering 500 to 10% at random"
  measure webhooks --scenario flaky --db-url "$url" --events "$WEBHOOK_EVENTS" --fail-percent 10
  step "7. webhooks: $WEBHOOK_RATE events/s for $WEBHOOK_SECONDS s"
  measure webhooks --scenario latency --db-url "$url" --rate "$WEBHOOK_RATE" \
    --seconds "$WEBHOOK_SECONDS"
  stop_server
}

export_scenario() {
  local started
  step "5. copying $TEMPLATE into $EXPORT_DB"
  started="$(date +%s)"
  recreate_db "$EXPORT_DB" "TEMPLATE \"$TEMPLATE\" STRATEGY FILE_COPY"
  DATABASE_URL="$(db_url "$EXPORT_DB")" RUST_LOG=warn "$OMS" migrate >&2
  META+=("template=$(sql postgres -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$TEMPLATE'"); copied for this run in $(( $(date +%s) - started )) s")
  step "5. CSV export on a fresh server (at most ${EXPORT_SECONDS} s)"
  start_server "$EXPORT_DB" "$EXPORT_PORT" "$RUN_DIR/export-server.log"
  step "5. psql COPY of the same statement into /dev/null (before the export)"
  local first second
  first="$(copy_seconds)"
  measure export --base "http://127.0.0.1:$EXPORT_PORT" --admin-email "$ADMIN_EMAIL" \
    --admin-password "$ADMIN_PW" --pid "$SERVER_PID" --max-seconds "$EXPORT_SECONDS"
  stop_server
  step "5. psql COPY of the same statement into /dev/null (after the export)"
  second="$(copy_seconds)"
  copy_result "$first" "$second" | tee -a "$RESULTS" >&2
  sql postgres -c "DROP DATABASE IF EXISTS \"$EXPORT_DB\" WITH (FORCE)"
}

# Seconds psql takes to run the export's COPY on the export database into /dev/null, or
# "bound" when EXPORT_SECONDS ran out, or "failed".
copy_seconds() {
  local started ended rc=0
  started="$(date +%s.%N)"
  timeout "$EXPORT_SECONDS" "$PSQL" "$(db_url "$EXPORT_DB")" -X -q -v ON_ERROR_STOP=1 \
    -f "$ROOT/bench/sql/export-copy.sql" >/dev/null || rc=$?
  ended="$(date +%s.%N)"
  if [ "$rc" -eq 124 ]; then
    echo bound
  elif [ "$rc" -ne 0 ]; then
    warn "psql COPY failed (exit $rc)"
    echo failed
  else
    awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }'
  fi
}

# The JSON line of the COPY pairing: the faster of the two timed runs $1 and $2.
copy_result() {
  local best="" t
  for t in "$1" "$2"; do
    case "$t" in
      bound | failed) ;;
      *) if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best="$t"; fi ;;
    esac
  done
  if [ -n "$best" ]; then
    printf '{"kind":"export_copy","completed":true,"seconds":%s,"runs":["%s","%s"]}\n' "$best" "$1" "$2"
  else
    printf '{"kind":"export_copy","completed":false,"seconds":%s,"runs":["%s","%s"]}\n' "$EXPORT_SECONDS" "$1" "$2"
  fi
}

report() {
  local out="$ROOT/bench/results/$STAMP.md" wall="$1" load_start="$2" dirty=""
  [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && dirty=" (with uncommitted changes in the tree)"
  local pg
  pg="$(sql postgres -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ' on ' || host(inet_server_addr()) || ':' || inet_server_port() || ', fsync ' || current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit') || ', shared_buffers ' || current_setting('shared_buffers') || ', max_connections ' || current_setting('max_connections')")"
  META+=(
    "started=$(date -u -d "@$RUN_STARTED" +%FT%TZ)"
    "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty"
    "postgres=$pg"
    "server=\`oms serve\` release build, APP_ENV=production, RUST_LOG=warn, **rate limits off** (RATE_LIMIT_AUTH_PER_MINUTE=0, RATE_LIMIT_API_PER_SECOND=0, RATE_LIMIT_ORDERS_PER_MINUTE=0), PAYMENT_PROVIDER=simulated, SIMULATED_PAYMENT_LATENCY_MS=0, DATABASE_MAX_CONNECTIONS=${BENCH_DB_POOL:-10 (default)}, one HTTP worker per core"
    "load=oms-bench (Rust: tokio, reqwest, tokio-tungstenite) on loopback, closed loop, one keep-alive connection per client, ${SECS} s per scenario (BENCH_SECONDS), connections: $CONNECTIONS; $CUSTOMERS customers, $PRODUCTS products + $HOT hot ones"
    "webhooks=WEBHOOK_CONCURRENCY=$WEBHOOK_CONCURRENCY, WEBHOOK_RETRY_SCHEDULE=$WEBHOOK_SCHEDULE (short, for the bench; the default is 5s,5m,30m,…), WEBHOOK_ALLOW_PRIVATE=true, WEBHOOK_ALLOW_HTTP=true (a loopback receiver), default WEBHOOK_TIMEOUT (10s)"
    "pgbench=\`pgbench -n -M $PROTOCOL -j 2 -T $SECS\`, same connection counts, in its own database ($PG_DB: the same users and products; its NOTIFYs reach no listener), run right after the server's run at the same concurrency"
    "wall=${wall} s (build and template generation excluded)"
    "caveat=load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; up to $MAX_RUSTC rustc processes (other builds sharing the cores) were seen at scenario starts"
  )
  [ -n "${BENCH_CAVEAT:-}" ] && META+=("caveat=$BENCH_CAVEAT")
  local args=() m
  for m in "${META[@]}"; do args+=(--meta "$m"); done
  "$LOADGEN" report --results "$RESULTS" --out "$out" "${args[@]}"
  step "results written to ${out#"$ROOT"/}"
}

# 4b. The event bus: three instances on the bench database, for each EVENT_BUS, placement spread
# over them, then WebSocket clients on the second while the first takes status changes.
bus_scenarios() {
  local bus i port bases nats_url="nats://127.0.0.1:4222" url stream
  url="$(db_url "$DB")"
  if ! port_in_use 4222; then
    command -v nats-server >/dev/null 2>&1 || "$ROOT/scripts/nats.sh" ensure
    port="$(free_port)"
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$RUN_DIR/nats" >"$RUN_DIR/nats.log" 2>&1 &
    NATS_PID=$!
    nats_url="nats://127.0.0.1:$port"
    for _ in $(seq 1 50); do port_in_use "$port" && break; sleep 0.1; done
  fi
  for bus in postgres nats; do
    stream="OMS_BENCH_$STAMP"
    stream="${stream//[^A-Za-z0-9_]/_}"
    bases=""
    BUS_PIDS=()
    for i in 0 1 2; do
      port="$((PORT + 10 + i))"
      port_in_use "$port" && die "port $port is taken (set BENCH_PORT)"
      env APP_ENV=production RUST_LOG=warn DATABASE_URL="$url" BIND_ADDR="127.0.0.1:$port" \
        PUBLIC_ORIGIN="http://127.0.0.1:$port" JWT_SECRET="$JWT_SECRET" \
        RATE_LIMIT_AUTH_PER_MINUTE=0 RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_ORDERS_PER_MINUTE=0 \
        PAYMENT_PROVIDER=simulated SIMULATED_PAYMENT_LATENCY_MS=0 \
        EVENT_BUS="$bus" NATS_URL="$nats_url" NATS_STREAM="$stream" \
        NATS_SUBJECT_PREFIX="oms-bench.$stream" \
        "$OMS" serve >>"$RUN_DIR/bus-$bus-$i.log" 2>&1 &
      BUS_PIDS+=("$!")
      bases="${bases:+$bases,}http://127.0.0.1:$port"
    done
    for i in 0 1 2; do
      port="$((PORT + 10 + i))"
      for _ in $(seq 1 300); do
        BIND_ADDR="127.0.0.1:$port" "$OMS" healthcheck >/dev/null 2>&1 && break
        sleep 0.1
      done
    done
    step "4b. EVENT_BUS=$bus: placement over 3 instances, $BUS_CONNECTIONS connections, ${SECS} s"
    measure place --setup "$RUN_DIR/setup.json" --label "bus-$bus" --mode spread --bus "$bus" \
      --bases "$bases" --connections "$BUS_CONNECTIONS" --seconds "$SECS" \
      --orders-out "$RUN_DIR/bus-$bus-orders.txt" --keep-orders 100000
    step "4b. EVENT_BUS=$bus: 100 WebSocket clients on instance 2, changes on instance 1"
    measure realtime --setup "$RUN_DIR/setup.json" --orders "$RUN_DIR/bus-$bus-orders.txt" \
      --clients 100 --rate "$WS_RATE" --seconds "$SECS" --bus "$bus" \
      --base "http://127.0.0.1:$((PORT + 10))" --ws-base "http://127.0.0.1:$((PORT + 11))" \
      --pid "${BUS_PIDS[1]}"
    for i in "${!BUS_PIDS[@]}"; do stop_pid "${BUS_PIDS[i]}" 200; done
    BUS_PIDS=()
  done
  if [ -n "$NATS_PID" ]; then stop_pid "$NATS_PID" 50; NATS_PID=""; fi
}

main() {
  cd "$ROOT"
  PSQL="$(pg_tool psql)" || die "psql not found: install the PostgreSQL client (apt-get install postgresql-client)"
  PGBENCH="$(pg_tool pgbench)" || die "pgbench not found: install the PostgreSQL client (apt-get install postgresql-client)"
  build
  PG_URL="$("$ROOT/scripts/db.sh" url)"
  raise_fd_limit
  JWT_SECRET="$(random_hex 32)"
  export JWT_SECRET
  mkdir -p "$RUN_DIR" "$ROOT/bench/results"
  : >"$RESULTS"
  trap cleanup EXIT
  [ "$SKIP_EXPORT" = 1 ] || ensure_template

  RUN_STARTED="$(date +%s)"
  local load_start
  load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$ONLY" = export ]; then
    export_scenario
    report "$(( $(date +%s) - RUN_STARTED ))" "$load_start"
    return 0
  fi
  [ -z "$ONLY" ] || die "BENCH_ONLY=$ONLY: only \"export\" is known"
  prepare_databases
  main_scenarios
  [ "$SKIP_WEBHOOKS" = 1 ] || webhook_scenarios
  [ "$SKIP_BUS" = 1 ] || bus_scenarios
  [ "$SKIP_EXPORT" = 1 ] || export_scenario
  report "$(( $(date +%s) - RUN_STARTED ))" "$load_start"
}

main "$@"
