#!/usr/bin/env bash
# The first-run experience behind `make run`, and small helpers behind `make migrate`.
#
#   scripts/run.sh [demo]     build oms, find or start PostgreSQL (scripts/db.sh), migrate, seed the
#                             demo catalogue, create the demo admin, then serve in the foreground
#                             (development mode, plain http) and print the URLs once it is up
#   scripts/run.sh migrate    build oms and apply the migrations to the database from scripts/db.sh
#   scripts/run.sh oms ARGS   build oms and run `oms ARGS` against the database from scripts/db.sh
#
# Settings (environment): PROFILE (cargo profile, default dev; `release` for an optimised build),
# BIND_ADDR (default 127.0.0.1:8080), ADMIN_EMAIL (default admin@example.com), ADMIN_PASSWORD
# (default admin-demo-password), DEMO_PASSWORD (the demo customers' password, default
# demo-password), DEMO_ORDERS (passed to `oms seed-demo --orders`, default: its own), and every
# server setting from the README (DATABASE_URL, JWT_SECRET, RUST_LOG, ...).
# The banner lists every demo credential. Stop the server with Ctrl-C (or SIGTERM to this script or
# to the server). The database keeps running; `make db-down` stops a project-local one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly PROFILE="${PROFILE:-dev}"
readonly ADMIN_EMAIL="${ADMIN_EMAIL:-admin@example.com}"
readonly ADMIN_PW="${ADMIN_PASSWORD:-admin-demo-password}"
# The customers `oms seed-demo` creates (DEMO_CUSTOMERS in crates/adapters-postgres/src/seed.rs;
# scripts/quickstart-test.sh signs in as the first) and their password, as `oms seed-demo` reads it.
readonly DEMO_CUSTOMERS="alice@example.com bob@example.com carol@example.com"
readonly CUSTOMER_PW="${DEMO_PASSWORD:-demo-password}"
SERVER_PID=""
SIGNALLED=0
export BIND_ADDR="${BIND_ADDR:-127.0.0.1:8080}"

# The address to show people: a wildcard bind is reachable on 127.0.0.1.
display_addr() {
  local host="${BIND_ADDR%:*}" port="${BIND_ADDR##*:}"
  case "$host" in 0.0.0.0 | "[::]" | "") host="127.0.0.1" ;; esac
  printf '%s:%s\n' "$host" "$port"
}

# The URL without its password, for the screen.
redacted_url() {
  printf '%s\n' "$1" | sed -E 's#^([a-z]+://[^:/@]*):[^@/]*@#\1:***@#'
}

print_banner() {
  local addr="$1" admin_line="$2" customers_line="$3"
  cat >&2 <<TXT

==============================================================================
 OMS is running (APP_ENV=development, plain http)
   API        http://$addr          (routes under /api)
   OpenAPI    http://$addr/api/openapi.json
   WebSocket  ws://$addr/api/ws     (SSE fallback: /api/events)
   Health     http://$addr/healthz  http://$addr/readyz  metrics: /metrics
   Admin      $admin_line
   Customers  $customers_line
   Database   $(redacted_url "$DATABASE_URL")
 Sign in:  curl -i -H 'Content-Type: application/json' \\
             -d '{"email":"$ADMIN_EMAIL","password":"..."}' http://$addr/api/auth/login
 Stop with Ctrl-C. PostgreSQL keeps running (make db-down stops a project-local one).
==============================================================================

TXT
}

# Waits until the server in process $1 answers, then prints the banner (lines $3 and $4).
announce_when_up() {
  local pid="$1" oms="$2" admin_line="$3" customers_line="$4" tries=0
  while kill -0 "$pid" 2>/dev/null; do
    if "$oms" healthcheck >/dev/null 2>&1; then
      print_banner "$(display_addr)" "$admin_line" "$customers_line"
      return 0
    fi
    tries=$((tries + 1))
    [ "$tries" -lt 600 ] || { warn "the server did not answer /healthz within 60 s"; return 0; }
    sleep 0.1 || true # a Ctrl-C ends the sleep too: the trap has the say, not `set -e`
  done
}

# The trap of INT, TERM and HUP while the server runs: passes them on as SIGTERM (a graceful stop).
stop_server() {
  [ -n "$SERVER_PID" ] || exit 143 # not started yet
  SIGNALLED=1
  kill -TERM "$SERVER_PID" 2>/dev/null || true
}

# Waits for the server to exit and exits with its status.
wait_for_server() {
  local status
  while :; do
    SIGNALLED=0
    status=0
    wait "$SERVER_PID" || status=$?
    # A trapped signal ends `wait` early (status > 128), before the server has exited: wait again.
    [ "$SIGNALLED" = 1 ] || break
  done
  exit "$status"
}

demo() {
  local oms admin_line customers_line seed_out seed_args=()
  oms="$(build_oms "; the first build takes a few minutes")"
  use_database
  export APP_ENV="development"
  export COOKIE_SECURE="false"
  export PUBLIC_ORIGIN="${PUBLIC_ORIGIN:-http://$(display_addr)}"
  # The Next.js dev server (`make web`) is another origin: let its pages open the WebSocket.
  export CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://127.0.0.1:3000,http://localhost:3000}"
  # A fixed secret is fine for a local demo only; production requires its own (see README).
  export JWT_SECRET="${JWT_SECRET:-local-demo-secret-do-not-use-in-production-0123456789abcdef}"
  export RUST_LOG="${RUST_LOG:-info}"

  step "oms migrate"
  "$oms" migrate

  if [ -n "${DEMO_ORDERS:-}" ]; then seed_args=(--orders "$DEMO_ORDERS"); fi
  # ${a[@]+...}: an empty array under `set -u` (bash 3.2 on macOS) is otherwise an error.
  step "oms seed-demo ${seed_args[*]+${seed_args[*]}}"
  customers_line="${DEMO_CUSTOMERS// /, } / $CUSTOMER_PW"
  if seed_out="$(DEMO_PASSWORD="$CUSTOMER_PW" "$oms" seed-demo ${seed_args[@]+"${seed_args[@]}"})"; then
    printf '%s\n' "$seed_out"
    case "$seed_out" in
      *"already present"*) customers_line="$customers_line   (if DEMO_PASSWORD was the same when first seeded)" ;;
    esac
  else
    printf '%s\n' "$seed_out"
    warn "seeding the demo data failed (see above); serving anyway"
    customers_line="none: seeding the demo data failed (see above)"
  fi

  step "oms create-admin --email $ADMIN_EMAIL"
  if ADMIN_PASSWORD="$ADMIN_PW" "$oms" create-admin --email "$ADMIN_EMAIL"; then
    admin_line="$ADMIN_EMAIL / $ADMIN_PW   (demo credentials, printed only here)"
  else
    warn "could not create the demo admin (above); it may exist from an earlier run"
    admin_line="$ADMIN_EMAIL   (password as set when it was created)"
  fi

  step "oms serve on $BIND_ADDR"
  # The server is this shell's child and this shell waits for it, so nothing is left behind: the
  # banner is printed from here once /healthz answers, and Ctrl-C or SIGTERM reaches the server
  # (directly, and passed on by the trap); this script exits with the server's status. (Before,
  # the banner came from a background subshell while `exec` replaced this shell by the server,
  # which never reaped it: a defunct bash stayed in make run's process group.)
  trap stop_server INT TERM HUP
  "$oms" serve &
  SERVER_PID=$!
  announce_when_up "$SERVER_PID" "$oms" "$admin_line" "$customers_line"
  wait_for_server
}

main() {
  cd "$ROOT"
  case "${1:-demo}" in
    demo) demo ;;
    migrate)
      local oms
      oms="$(build_oms "; the first build takes a few minutes")"
      use_database
      step "oms migrate"
      exec "$oms" migrate
      ;;
    oms)
      shift
      local oms
      oms="$(build_oms "; the first build takes a few minutes")"
      use_database
      exec "$oms" "$@"
      ;;
    -h | --help | help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2 ;;
    *) die "unknown command '$1' (try: demo, migrate, oms ARGS)" ;;
  esac
}

main "$@"
