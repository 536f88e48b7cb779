#!/usr/bin/env bash
# `make fuzz`: property-based fuzzing of the HTTP API against its own OpenAPI document.
#
# Installs schemathesis (pinned in scripts/requirements-fuzz.txt) into the virtualenv .venv/fuzz,
# builds oms, creates a fresh database on the PostgreSQL that scripts/db.sh finds (dropped again on
# exit), migrates it, starts `oms serve` on a free 127.0.0.1 port with every rate limit off, creates
# an admin and a Bearer token for it, seeds two products and an order (the {id} path parameters
# are aimed at them), then runs `schemathesis run` against /api/openapi.json with that token. Checks: no 5xx (not_a_server_error), every response matches
# the documented schema (response_schema_conformance) and status code (status_code_conformance).
# The streaming routes (/api/ws, /api/events, the CSV export) and logout (it would revoke the
# token) are left out. Exits non-zero when schemathesis reports a failure or the run overruns.
#
# Settings (environment): FUZZ_MAX_EXAMPLES (per operation, default 25), FUZZ_TIME_LIMIT (seconds
# for the schemathesis run, default 300), FUZZ_WORKERS (default 1), FUZZ_SEED (reproduce a run),
# FUZZ_PYTHON (a Python 3.11+ interpreter), PROFILE (cargo profile, default dev), RUST_LOG (the
# server's, default warn). The server's log and the run's configuration are kept in target/fuzz/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly VENV="$ROOT/.venv/fuzz"
readonly REQUIREMENTS="$ROOT/scripts/requirements-fuzz.txt"
readonly PROFILE="${PROFILE:-dev}"
readonly MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
readonly TIME_LIMIT="${FUZZ_TIME_LIMIT:-300}"
# One worker: with several, schemathesis' threads can trip CPython 3.11's "AST constructor recursion
# depth mismatch" (cpython#106905), an error of the tool that would fail the run for nothing.
readonly WORKERS="${FUZZ_WORKERS:-1}"
readonly WORK_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz"
readonly SERVER_LOG="$WORK_DIR/server.log"
readonly CONFIG="$WORK_DIR/schemathesis.toml"
readonly DB_NAME="oms_fuzz_$$"
readonly ADMIN_EMAIL="fuzz-admin@example.com"
# Operations not fuzzed, as a regular expression over the OpenAPI paths: long-lived streams and
# the logout that would revoke the run's own token.
readonly EXCLUDED_PATHS='^(/api)?/(ws|events|admin/orders/export|auth/logout)$'

SERVER_PID=""
ADMIN_DB_URL=""

# --- tools -------------------------------------------------------------------------------------

# Creates .venv/fuzz with the pinned requirements (schemathesis 4 needs Python 3.11+).
ensure_venv() {
  ensure_pinned_venv "$VENV" "$REQUIREMENTS" 11 FUZZ_PYTHON
}

# --- the run -----------------------------------------------------------------------------------

cleanup() {
  local status=$?
  stop_pid "$SERVER_PID"
  drop_database "$DB_NAME"
  exit "$status"
}

# Starts `oms serve` in the background on $1 and waits (at most 30 s) until /healthz answers.
start_server() {
  local oms="$1" port="$2"
  mkdir -p "$WORK_DIR"
  step "oms serve on 127.0.0.1:$port (rate limits off; log: $SERVER_LOG)"
  BIND_ADDR="127.0.0.1:$port" PUBLIC_ORIGIN="http://127.0.0.1:$port" \
    RATE_LIMIT_AUTH_PER_MINUTE=0 RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_ORDERS_PER_MINUTE=0 \
    "$oms" serve >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$SERVER_LOG" >&2; die "oms serve exited"; }
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  tail -n 30 "$SERVER_LOG" >&2
  die "oms serve did not answer /healthz within 30 s"
}

# Creates the admin and prints a Bearer token for it.
admin_token() {
  local oms="$1" base="$2" password body
  password="$(random_hex 16)"
  ADMIN_PASSWORD="$password" "$oms" create-admin --email "$ADMIN_EMAIL" >&2
  body="$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$password\"}" "$base/api/auth/token")" \
    || die "POST /api/auth/token failed for the new admin"
  printf '%s' "$body" | json_member access_token
}

# Prints one member of the JSON object on standard input.
json_member() {
  "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# POSTs JSON body $2 to $1 with the admin's token; prints the answer's "id" when the status is $3.
post_for_id() {
  local url="$1" body="$2" expected="$3" token="$4" out status
  out="$(mktemp)"
  status="$(curl -sS -o "$out" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "$body" "$url")" || status="000"
  if [ "$status" != "$expected" ]; then
    warn "POST $url answered $status: $(head -c 300 "$out")"
    rm -f "$out"
    return 1
  fi
  json_member id <"$out"
  rm -f "$out"
}

# Seeds two products and a PENDING order through the API, then writes a schemathesis
# configuration that aims the {id} path parameters at them: without it, nearly every generated id
# is unknown and the order routes would only ever answer 404. Falls back to the demo catalogue
# (and random ids) when the admin API is missing.
seed_fixtures() {
  local oms="$1" base="$2" token="$3" product1 product2 order
  step "seeding two products and an order"
  if ! product1="$(post_for_id "$base/api/admin/products" \
      '{"name":"Fuzz product 1","description":"Seeded by scripts/fuzz.sh","price":1250,"stock_quantity":100000,"sku":"FUZZ-1"}' \
      201 "$token")" \
    || ! product2="$(post_for_id "$base/api/admin/products" \
      '{"name":"Fuzz product 2","description":"Seeded by scripts/fuzz.sh","price":2500,"stock_quantity":100000,"sku":"FUZZ-2"}' \
      201 "$token")"; then
    warn "seeding with oms seed-demo instead; path ids stay random"
    "$oms" seed-demo >&2 || warn "oms seed-demo failed; fuzzing an empty catalogue"
    : >"$CONFIG"
    return 0
  fi
  order="$(post_for_id "$base/api/orders" \
    "{\"items\":[{\"product_id\":$product1,\"quantity\":1}],\"shipping_address\":{\"name\":\"Fuzz\",\"line1\":\"1 Main St\",\"city\":\"London\",\"country\":\"GB\"}}" \
    201 "$token")" || die "could not place the seed order"
  cat >"$CONFIG" <<TOML
# Written by scripts/fuzz.sh for one run: the seeded records' ids for the {id} path parameters.
[[operations]]
include-path-regex = '^(/api)?/(admin/)?orders/\{id\}'
parameters = { "path.id" = "$order" }

[[operations]]
include-path-regex = '^(/api)?/admin/products/\{id\}\$'
parameters = { "path.id" = $product2 }

[[operations]]
include-path-regex = '^(/api)?/products/\{id\}\$'
parameters = { "path.id" = $product1 }
TOML
}

run_schemathesis() {
  local base="$1" token="$2" seed_args=() status=0
  if [ -n "${FUZZ_SEED:-}" ]; then seed_args=(--seed "$FUZZ_SEED"); fi
  step "the served document validates as OpenAPI 3.1"
  curl -fsS "$base/api/openapi.json" -o "$WORK_DIR/openapi.json"
  "$VENV/bin/python" -m openapi_spec_validator --schema 3.1.0 "$WORK_DIR/openapi.json"
  step "schemathesis run ($MAX_EXAMPLES examples per operation, at most $TIME_LIMIT s)"
  timeout --kill-after=15 "$TIME_LIMIT" "$VENV/bin/schemathesis" --config-file "$CONFIG" \
    run "$base/api/openapi.json" \
    --origin "$base" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance \
    --exclude-path-regex "$EXCLUDED_PATHS" \
    --max-examples "$MAX_EXAMPLES" \
    --workers "$WORKERS" \
    --request-timeout 10 \
    --generation-database "$WORK_DIR/examples" \
    ${seed_args[@]+"${seed_args[@]}"} || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    die "the fuzz run did not finish within $TIME_LIMIT s (lower FUZZ_MAX_EXAMPLES?)"
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 30 "$SERVER_LOG" >&2
    die "oms serve exited during the fuzz run"
  fi
  if [ "$status" -ne 0 ]; then
    printf 'fuzz.sh: schemathesis found failures (exit %s); server log: %s\n' "$status" "$SERVER_LOG" >&2
    exit "$status"
  fi
}

main() {
  local oms port base token started=$SECONDS
  cd "$ROOT"
  command -v timeout >/dev/null 2>&1 || die "GNU timeout (coreutils) is needed to bound the run"
  # Every oms command below (migrate, create-admin, serve) runs with these.
  export APP_ENV=development COOKIE_SECURE=false RUST_LOG="${RUST_LOG:-warn}"
  JWT_SECRET="$(random_hex 32)"
  export JWT_SECRET
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  ensure_venv
  oms="$(build_oms)"
  create_database "$DB_NAME"
  step "oms migrate"
  "$oms" migrate >&2
  port="$(free_port)" || die "no free port found on 127.0.0.1"
  base="http://127.0.0.1:$port"
  start_server "$oms" "$port"
  token="$(admin_token "$oms" "$base")"
  seed_fixtures "$oms" "$base" "$token"
  run_schemathesis "$base" "$token"
  step "make fuzz: no failures ($((SECONDS - started)) s)"
}

main "$@"
