#!/usr/bin/env bash
# `make cluster-test`: three `oms serve` instances on one database, under load, with instances and
# (with EVENT_BUS=nats) the stream's leader node killed with SIGKILL and restarted meanwhile.
#
# For each bus in CLUSTER_BUSES (default "postgres nats"):
#   - with nats: three nats-server nodes on loopback in one JetStream cluster (their own ports and
#     store folders), the instances on all three (NATS_REPLICAS=3, a stream of this run's own);
#   - a fresh database (dropped on exit), migrated, an admin, the bench's products and customers;
#   - three `oms serve` on free 127.0.0.1 ports, one WebSocket client on each and eight writers
#     (`oms-bench cluster`, CLUSTER_SECONDS of writes, default 24);
#   - at 6 s `kill -9` of the second instance, restarted at 9 s; with nats, at 12 s `kill -9` of
#     the node that leads the stream, restarted at 16 s.
# Pass (checked by `oms-bench cluster`): every client got every committed event once and in order
# (the killed instance's client reconnects with `since` and resumes with no gap), every
# acknowledged order is stored, the stock taken equals the units ordered, none negative.
# Bounded: every wait has a deadline; about 2 minutes in all. Logs in target/cluster-test/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly BUSES="${CLUSTER_BUSES:-postgres nats}"
readonly SECONDS_OF_LOAD="${CLUSTER_SECONDS:-24}"
readonly WORK="${CARGO_TARGET_DIR:-$ROOT/target}/cluster-test"
readonly JWT_SECRET="cluster-test-secret-cluster-test-secret-0123"
readonly ADMIN_EMAIL="cluster-admin@example.com"
readonly ADMIN_SECRET="cluster-admin-password-1"

OMS=""
LOADGEN=""
DB_NAME=""
OMS_PIDS=()
OMS_PORTS=()
NATS_PIDS=()
NATS_ARGS=()
NATS_URLS=""

cleanup() {
  local pid
  for pid in "${OMS_PIDS[@]}" "${NATS_PIDS[@]}"; do
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  if [ -n "$DB_NAME" ] && [ -n "${ADMIN_DB_URL:-}" ]; then
    "$(pg_tool psql)" -X -q -w -d "$ADMIN_DB_URL" \
      -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}

build() {
  local exes
  step "building oms and oms-bench"
  exes="$(cargo_build_executables -p api --bin oms -p bench --bin oms-bench)" || die "cargo build failed"
  OMS="$(printf '%s\n' "$exes" | grep '/oms$' | tail -n 1)" || true
  LOADGEN="$(printf '%s\n' "$exes" | grep '/oms-bench$' | tail -n 1)" || true
  if [ ! -x "$OMS" ] || [ ! -x "$LOADGEN" ]; then die "cargo built no oms / oms-bench executable"; fi
}

# nats_start I: starts node I (0-based) with NATS_ARGS[I].
nats_start() {
  # shellcheck disable=SC2086
  nats-server ${NATS_ARGS[$1]} >>"$WORK/nats-$1.log" 2>&1 &
  NATS_PIDS[$1]=$!
}

start_nats_cluster() {
  local i client=() route=() monitor=() routes
  command -v nats-server >/dev/null 2>&1 || "$ROOT/scripts/nats.sh" ensure
  command -v nats-server >/dev/null 2>&1 || die "nats-server is needed for the nats run"
  for i in 0 1 2; do
    client[i]="$(free_port)"; route[i]="$(free_port)"; monitor[i]="$(free_port)"
  done
  NATS_URLS=""
  for i in 0 1 2; do
    routes=""
    for j in 0 1 2; do
      [ "$j" = "$i" ] || routes="${routes:+$routes,}nats://127.0.0.1:${route[j]}"
    done
    rm -rf "$WORK/nats-store-$i"
    NATS_ARGS[i]="-a 127.0.0.1 -p ${client[i]} -m ${monitor[i]} -js -sd $WORK/nats-store-$i -n oms-node-$i --cluster_name oms-test --cluster nats://127.0.0.1:${route[i]} --routes $routes"
    NATS_URLS="${NATS_URLS:+$NATS_URLS,}nats://127.0.0.1:${client[i]}"
    nats_start "$i"
  done
  MONITOR_PORTS=("${monitor[@]}")
  for i in 0 1 2; do
    for _ in $(seq 1 100); do port_in_use "${client[i]}" && break; sleep 0.1; done
    port_in_use "${client[i]}" || die "nats node $i did not start (log: $WORK/nats-$i.log)"
  done
  step "nats: three nodes ($NATS_URLS)"
}

# The index of the node that leads stream $1 (from the monitoring endpoint), or nothing.
stream_leader() {
  local i json leader
  for i in 0 1 2; do
    json="$(curl -s --max-time 2 "http://127.0.0.1:${MONITOR_PORTS[i]}/jsz?streams=true" || true)"
    leader="$(printf '%s' "$json" | python3 -c '
import json, sys
name = sys.argv[1]
try:
    doc = json.load(sys.stdin)
except Exception:
    sys.exit(0)
for account in doc.get("account_details") or []:
    for stream in account.get("stream_detail") or []:
        if stream.get("name") == name:
            print((stream.get("cluster") or {}).get("leader", ""))
' "$1")"
    if [ -n "$leader" ]; then
      printf '%s\n' "${leader##*-}"
      return 0
    fi
  done
}

# oms_start I BUS STREAM: instance I on OMS_PORTS[I].
oms_start() {
  local addr="127.0.0.1:${OMS_PORTS[$1]}" tries=0
  env APP_ENV=production RUST_LOG=warn,api=info \
    DATABASE_URL="$DATABASE_URL" BIND_ADDR="$addr" PUBLIC_ORIGIN="http://$addr" \
    JWT_SECRET="$JWT_SECRET" \
    RATE_LIMIT_AUTH_PER_MINUTE=0 RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_ORDERS_PER_MINUTE=0 \
    EVENT_BUS="$2" NATS_URL="${NATS_URLS:-nats://127.0.0.1:4222}" NATS_STREAM="$3" \
    NATS_REPLICAS=3 NATS_SUBJECT_PREFIX="oms-cluster.$3" \
    "$OMS" serve >>"$WORK/oms-$1.log" 2>&1 &
  OMS_PIDS[$1]=$!
  until BIND_ADDR="$addr" "$OMS" healthcheck >/dev/null 2>&1; do
    kill -0 "${OMS_PIDS[$1]}" 2>/dev/null || { tail -n 20 "$WORK/oms-$1.log" >&2; die "oms $1 exited"; }
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || die "oms $1 did not answer /healthz within 30 s"
    sleep 0.1
  done
}

run_bus() {
  local bus="$1" stream="OMS_CLUSTER_$$_$1" i bases="" load_pid status=0 leader
  step "cluster-test: EVENT_BUS=$bus"
  NATS_URLS=""
  NATS_PIDS=()
  [ "$bus" = nats ] && start_nats_cluster
  DB_NAME="oms_cluster_$$_$bus"
  create_database "$DB_NAME"
  DATABASE_URL="$DATABASE_URL" "$OMS" migrate >/dev/null
  ADMIN_PASSWORD="$ADMIN_SECRET" DATABASE_URL="$DATABASE_URL" "$OMS" create-admin --email "$ADMIN_EMAIL" >/dev/null
  for i in 0 1 2; do
    OMS_PORTS[i]="$(free_port)"
    oms_start "$i" "$bus" "$stream"
    bases="${bases:+$bases,}http://127.0.0.1:${OMS_PORTS[i]}"
  done
  "$LOADGEN" setup --base "http://127.0.0.1:${OMS_PORTS[0]}" --admin-email "$ADMIN_EMAIL" \
    --admin-password "$ADMIN_SECRET" --customers 8 --products 40 --hot-products 2 \
    --stock 1000000 --out "$WORK/setup-$bus.json" --env-out "$WORK/setup-$bus.env" >/dev/null
  "$LOADGEN" cluster --setup "$WORK/setup-$bus.json" --bases "$bases" --db-url "$DATABASE_URL" \
    --writers 8 --seconds "$SECONDS_OF_LOAD" --drain-seconds 30 --bus "$bus" \
    >"$WORK/result-$bus.json" 2>"$WORK/loadgen-$bus.log" &
  load_pid=$!
  sleep 6
  step "kill -9 of instance 1"
  kill -9 "${OMS_PIDS[1]}"; wait "${OMS_PIDS[1]}" 2>/dev/null || true
  sleep 3
  step "instance 1 restarted"
  oms_start 1 "$bus" "$stream"
  if [ "$bus" = nats ]; then
    sleep 3
    leader="$(stream_leader "$stream")"
    if [ -n "$leader" ]; then
      step "kill -9 of nats node $leader (the stream's leader)"
      kill -9 "${NATS_PIDS[$leader]}"; wait "${NATS_PIDS[$leader]}" 2>/dev/null || true
      sleep 4
      step "nats node $leader restarted"
      nats_start "$leader"
    else
      warn "the stream's leader was not found; no node killed"
    fi
  fi
  wait "$load_pid" || status=$?
  cat "$WORK/result-$bus.json" >&2 || true
  [ "$status" -eq 0 ] || { tail -n 20 "$WORK/loadgen-$bus.log" >&2; die "cluster-test with EVENT_BUS=$bus failed"; }
  step "cluster-test with EVENT_BUS=$bus: passed"
  for i in 0 1 2; do kill "${OMS_PIDS[i]}" 2>/dev/null || true; done
  for i in 0 1 2; do wait "${OMS_PIDS[i]}" 2>/dev/null || true; done
  OMS_PIDS=()
  for i in "${!NATS_PIDS[@]}"; do kill "${NATS_PIDS[i]}" 2>/dev/null || true; wait "${NATS_PIDS[i]}" 2>/dev/null || true; done
  NATS_PIDS=()
  "$(pg_tool psql)" -X -q -w -d "$ADMIN_DB_URL" -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null
  DB_NAME=""
}

main() {
  local bus
  trap cleanup EXIT
  rm -rf "$WORK"; mkdir -p "$WORK"
  build
  for bus in $BUSES; do
    run_bus "$bus"
  done
  step "cluster-test: passed ($BUSES)"
}

main "$@"
