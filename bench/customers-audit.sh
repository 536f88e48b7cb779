#!/usr/bin/env bash
# p50/p99 of `GET /api/admin/customers` and `GET /api/admin/audit` on a database with 100,000
# users, 1,000,000 orders and 1,000,000 audit entries (issue 16's figures). A benchmark, not a test.
#
# usage: bench/customers-audit.sh [OMS_BINARY]   (default target/release/oms)
# env:   ADMIN_BENCH_DB (default oms_admin_bench): made once with `oms seed-demo --orders 1000000`
#        and bench/sql/audit-entries.sql, then reused; PG_URL (default postgres://postgres@127.0.0.1:5432);
#        ADMIN_BENCH_PORT (default 18590); REQUESTS per list and mode (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
OMS=${1:-target/release/oms}
DB=${ADMIN_BENCH_DB:-oms_admin_bench}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${ADMIN_BENCH_PORT:-18590}
REQUESTS=${REQUESTS:-200}
URL="$PG_URL/$DB"
JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ADMIN_EMAIL=bench-admin@example.com
ADMIN_PW=bench-admin-password
[ -x "$OMS" ] || { echo "no $OMS: cargo build --release --bin oms" >&2; exit 1; }
sql() { psql "$1" -v ON_ERROR_STOP=1 -qAtX "${@:2}"; }

if [ "$(sql "$PG_URL/postgres" -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" = 0 ]; then
  sql "$PG_URL/postgres" -c "CREATE DATABASE \"$DB\""
fi
DATABASE_URL="$URL" RUST_LOG=warn "$OMS" migrate >&2
if [ "$(sql "$URL" -c "SELECT count(*) >= 1000000 FROM orders")" != t ]; then
  echo "generating 1,000,000 orders (once, about 5 minutes)" >&2
  DATABASE_URL="$URL" RUST_LOG=warn "$OMS" seed-demo --orders 1000000 >&2
fi
DATABASE_URL="$URL" RUST_LOG=warn ADMIN_PASSWORD="$ADMIN_PW" "$OMS" create-admin --email "$ADMIN_EMAIL" >/dev/null
if [ "$(sql "$URL" -c "SELECT count(*) >= 1000000 FROM audit_log")" != t ]; then
  echo "inserting 1,000,000 audit entries (once)" >&2
  sql "$URL" -f bench/sql/audit-entries.sql
  # One customer in a thousand disabled (the `status=disabled` list).
  sql "$URL" -c "UPDATE users SET status = 'disabled' WHERE role = 'CUSTOMER' AND id % 1000 = 0"
  sql "$URL" -c "VACUUM ANALYZE"
fi
sql "$URL" -c "SELECT 'users ' || (SELECT count(*) FROM users) || ', orders ' || (SELECT count(*) FROM orders) || ', audit entries ' || (SELECT count(*) FROM audit_log)" >&2

log=$(mktemp)
env APP_ENV=production RUST_LOG=warn DATABASE_URL="$URL" BIND_ADDR="127.0.0.1:$PORT" \
  PUBLIC_ORIGIN="http://127.0.0.1:$PORT" JWT_SECRET="$JWT_SECRET" EVENT_RETENTION=3650d \
  RATE_LIMIT_AUTH_PER_MINUTE=0 RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_ORDERS_PER_MINUTE=0 \
  "$OMS" serve >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 300); do
  BIND_ADDR="127.0.0.1:$PORT" "$OMS" healthcheck >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
token=$(curl -fsS "http://127.0.0.1:$PORT/api/auth/token" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PW\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
target=$(sql "$URL" -c "SELECT target_id FROM audit_log WHERE target_type = 'order' LIMIT 1")
actor=$(sql "$URL" -c "SELECT actor_id FROM audit_log WHERE actor_role = 'CUSTOMER' LIMIT 1")
from=$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)
python3 bench/admin-bench.py --suite customers-audit --base "http://127.0.0.1:$PORT" \
  --token "$token" --pid "$pid" --requests "$REQUESTS" --target-order "$target" \
  --actor-id "$actor" --created-from "$from"
