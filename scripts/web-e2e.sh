#!/usr/bin/env bash
# `make web-test`'s browser part: the web app end to end in a real browser against a real server.
#
# Finds the browser: CHROMIUM when set; else /usr/bin/chromium; else a Chrome already on the machine
# (CHROME_BIN, which GitHub's runner images set, or google-chrome(-stable) on PATH); else, as root,
# installs Debian's chromium (apt-get; this project's CI runs as root). Installs web/'s npm packages
# (`npm ci`) when node_modules is missing or older than package-lock.json, builds oms (unless OMS_BIN
# names one), creates a fresh database on the PostgreSQL that scripts/db.sh finds (dropped on exit),
# migrates it, starts `oms serve` on a free 127.0.0.1 port (development mode, COOKIE_SECURE=false,
# rate limits off, PUBLIC_ORIGIN = the web app's origin so the WebSocket Origin check passes),
# creates an admin, builds the Next.js app with OMS_API_URL pointing at that server (rewrites are
# fixed at build time), starts `next start` on another free loopback port (with
# web/e2e/proxy-keepalive.mjs, so its /api proxy never reuses a connection oms is closing), and runs
# the Playwright specs (`npx playwright test`: web/playwright.config.ts, web/e2e/*.spec.ts) with that
# browser through executablePath (Playwright downloads no browser). The app is built into
# web/.next-e2e (NEXT_DIST_DIR), leaving a developer's web/.next alone. Screenshots for the notes
# land in web/e2e/screenshots/; the servers' logs, the failed tests' traces and screenshots
# (target/web-e2e/results) and the HTML report (target/web-e2e/report; `npx playwright show-report
# ../target/web-e2e/report` in web/) in target/web-e2e/. Everything is stopped on exit; the whole run
# is bounded by WEB_E2E_TIMEOUT seconds (default 900).
#
# The Stripe checkout (web/e2e/checkout-stripe.spec.ts, Playwright project `stripe`) runs against a
# second stack of its own: localstripe (the Stripe fake of `make stripe-test`, installed into
# .venv/stripe by scripts/lib.sh's ensure_localstripe) on a free loopback port, a second database and
# `oms serve` with PAYMENT_PROVIDER=stripe and STRIPE_API_BASE at localstripe (whose webhooks are
# sent to it), and a second build of the app (web/.next-e2e-stripe) with
# NEXT_PUBLIC_PAYMENT_PROVIDER=stripe, a test publishable key and NEXT_PUBLIC_STRIPE_JS_URL at
# localstripe's fake Stripe.js, started on another port; the spec gets them as STRIPE_WEB_URL and
# STRIPE_API_URL (without them it skips itself). WEB_E2E_STRIPE=0 leaves that stack out.
#
# Settings (environment): PROFILE (cargo profile, default dev), OMS_BIN (a prebuilt oms), CHROMIUM
# (the browser; default as above), WEB_E2E_SKIP_BUILD=1 (reuse web/.next-e2e: only when it was built for
# the same API port, i.e. never in CI; the Stripe build is always made), WEB_E2E_STRIPE (1, the
# default: also the Stripe stack; 0: not), RUST_LOG (the server's, default warn). Arguments are passed to
# `playwright test` (e.g. `scripts/web-e2e.sh e2e/cart.spec.ts` or `--grep undo`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly WEB="$ROOT/web"
readonly PROFILE="${PROFILE:-dev}"
readonly WORK_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/web-e2e"
readonly DB_NAME="oms_web_e2e_$$"
readonly E2E_ADMIN="web-e2e-admin@example.com"
BROWSER_BIN="${CHROMIUM:-/usr/bin/chromium}"
readonly TIMEOUT="${WEB_E2E_TIMEOUT:-900}"
readonly WITH_STRIPE="${WEB_E2E_STRIPE:-1}"
readonly STRIPE_DB_NAME="oms_web_e2e_stripe_$$"
# Test-mode keys for localstripe only (it accepts any sk_test_/pk_test_ key).
readonly STRIPE_SECRET="sk_test_web_e2e_0123456789"
readonly STRIPE_PUBLISHABLE="pk_test_web_e2e_0123456789"
readonly STRIPE_WEBHOOK_SECRET="whsec_web_e2e_0123456789abcdef"

SERVER_PID=""
WEB_PID=""
LOCALSTRIPE_PID=""
STRIPE_SERVER_PID=""
STRIPE_WEB_PID=""
STRIPE_DB_CREATED=0
ADMIN_DB_URL=""
# The pid of the last process start_oms / start_web started.
LAST_PID=""
STARTED_AT=$SECONDS

step_tag() { printf 'web-e2e %3ss' "$((SECONDS - STARTED_AT))"; }

cleanup() {
  local status=$?
  # next start runs in its own process group (setsid): stop the group.
  local pid
  for pid in "$WEB_PID" "$STRIPE_WEB_PID"; do
    if [ -n "$pid" ]; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
    stop_pid "$pid"
  done
  stop_pid "$SERVER_PID"
  stop_pid "$STRIPE_SERVER_PID"
  stop_pid "$LOCALSTRIPE_PID"
  drop_database "$DB_NAME"
  if [ "$STRIPE_DB_CREATED" = 1 ]; then drop_database "$STRIPE_DB_NAME"; fi
  step "done (exit $status)"
  exit "$status"
}

ensure_chromium() {
  local other
  if [ -x "$BROWSER_BIN" ]; then return 0; fi
  if [ -z "${CHROMIUM:-}" ]; then
    for other in "${CHROME_BIN:-}" "$(command -v google-chrome-stable || true)" \
        "$(command -v google-chrome || true)"; do
      if [ -n "$other" ] && [ -x "$other" ]; then
        step "using $other ($BROWSER_BIN is missing)"
        BROWSER_BIN="$other"
        return 0
      fi
    done
  fi
  command -v apt-get >/dev/null 2>&1 || die "$BROWSER_BIN is missing and apt-get is not available"
  step "installing Debian's chromium (apt-get)"
  is_root || die "$BROWSER_BIN is missing: run 'apt-get install -y chromium' as root"
  apt_install chromium || die "apt-get install chromium failed"
  [ -x "$BROWSER_BIN" ] || die "chromium did not install at $BROWSER_BIN"
}

ensure_node_modules() {
  if [ -d "$WEB/node_modules" ] && [ "$WEB/node_modules/.package-lock.json" -nt "$WEB/package-lock.json" ]; then
    return 0
  fi
  step "npm ci (web/)"
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
}

wait_http() {
  local url="$1" pid="$2" what="$3" log="$4" limit="$5"
  for _ in $(seq 1 $((limit * 10))); do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2; die "$what exited"; }
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  tail -n 30 "$log" >&2
  die "$what did not answer $url within $limit s"
}

# Starts `oms serve` on 127.0.0.1:$2 for the web app at 127.0.0.1:$3, on DATABASE_URL, with the
# NAME=VALUE settings after them; logs to $WORK_DIR/$1.log; LAST_PID is its pid.
start_oms() {
  local name="$1" api_port="$2" web_port="$3"
  shift 3
  env APP_ENV=development COOKIE_SECURE=false BIND_ADDR="127.0.0.1:$api_port" \
    PUBLIC_ORIGIN="http://127.0.0.1:$web_port" \
    JWT_SECRET="web-e2e-secret-0123456789abcdef0123456789abcdef" \
    RATE_LIMIT_AUTH_PER_MINUTE=0 RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_ORDERS_PER_MINUTE=0 \
    TAX_RATES="GB=2000,DE=1900" \
    WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_PRIVATE=true WEBHOOK_RETRY_SCHEDULE="1s,1s" \
    RUST_LOG="${RUST_LOG:-warn}" \
    "$@" "$OMS" serve >"$WORK_DIR/$name.log" 2>&1 &
  LAST_PID=$!
  wait_http "http://127.0.0.1:$api_port/readyz" "$LAST_PID" "oms serve ($name)" "$WORK_DIR/$name.log" 30
}

# Migrates DATABASE_URL.
prepare_database() {
  step "oms migrate"
  "$OMS" migrate >"$WORK_DIR/migrate.log" 2>&1 || { cat "$WORK_DIR/migrate.log" >&2; die "oms migrate failed"; }
}

# Creates the e2e admin with password $1 in DATABASE_URL.
create_admin() {
  ADMIN_PASSWORD="$1" "$OMS" create-admin --email "$E2E_ADMIN" >"$WORK_DIR/admin.log" 2>&1 \
    || { cat "$WORK_DIR/admin.log" >&2; die "oms create-admin failed"; }
}

# Builds the web app into web/$1 (NEXT_DIST_DIR) with /api proxied to 127.0.0.1:$2 and the
# NAME=VALUE settings after them (NEXT_PUBLIC_* are fixed at build time); logs to $WORK_DIR/$3.
build_web() {
  local dist="$1" api_port="$2" log="$WORK_DIR/$3"
  shift 3
  step "next build into web/$dist (OMS_API_URL=http://127.0.0.1:$api_port; log: $log)"
  (cd "$WEB" && env NEXT_TELEMETRY_DISABLED=1 NEXT_DIST_DIR="$dist" OMS_API_URL="http://127.0.0.1:$api_port" "$@" \
    npx next build) >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "next build failed"; }
}

# Starts `next start` of the build in web/$1 on 127.0.0.1:$2 in a process group of its own
# (setsid); logs to $WORK_DIR/$3; LAST_PID is its pid (and group).
start_web() {
  local dist="$1" port="$2" log="$WORK_DIR/$3"
  step "next start (web/$dist) on 127.0.0.1:$port (log: $log)"
  # web/e2e/proxy-keepalive.mjs: the /api proxy drops idle connections to oms before oms does (a
  # reused connection that oms was closing made a request fail with 500 now and then).
  (cd "$WEB" && NEXT_TELEMETRY_DISABLED=1 NEXT_DIST_DIR="$dist" \
    NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--import=./e2e/proxy-keepalive.mjs" \
    exec setsid npx next start --hostname 127.0.0.1 --port "$port") >"$log" 2>&1 &
  LAST_PID=$!
}

# A free port (free_port) that is none of the arguments.
free_port_other_than() {
  local port
  port="$(free_port)" || return 1
  while [[ " $* " == *" $port "* ]]; do port="$(free_port)" || return 1; done
  printf '%s\n' "$port"
}

# Starts localstripe on a free loopback port (its launcher prints `LISTENING <port>` first) and
# sets LOCALSTRIPE_PORT.
start_localstripe() {
  local out="$WORK_DIR/localstripe.out"
  : >"$out"
  step "localstripe (log: $WORK_DIR/localstripe.log)"
  "$LOCALSTRIPE_LAUNCHER" --host 127.0.0.1 --port 0 >"$out" 2>"$WORK_DIR/localstripe.log" &
  LOCALSTRIPE_PID=$!
  LOCALSTRIPE_PORT=""
  for _ in $(seq 1 300); do
    kill -0 "$LOCALSTRIPE_PID" 2>/dev/null || { tail -n 30 "$WORK_DIR/localstripe.log" >&2; die "localstripe exited"; }
    LOCALSTRIPE_PORT="$(sed -n 's/^LISTENING \([0-9][0-9]*\)$/\1/p' "$out")"
    if [ -n "$LOCALSTRIPE_PORT" ]; then break; fi
    sleep 0.1
  done
  [ -n "$LOCALSTRIPE_PORT" ] || die "localstripe did not say its port within 30 s"
  wait_http "http://127.0.0.1:$LOCALSTRIPE_PORT/js.stripe.com/v3/" "$LOCALSTRIPE_PID" localstripe \
    "$WORK_DIR/localstripe.log" 30
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$WORK_DIR"
  ensure_chromium
  ensure_node_modules
  local api_port web_port password stripe_api_port="" stripe_web_port=""
  local -a stripe_env=()
  if [ -n "${OMS_BIN:-}" ]; then OMS="$OMS_BIN"; else OMS="$(build_oms)"; fi
  readonly OMS
  password="$(random_hex 16)"
  api_port="$(free_port)" || die "no free port"
  web_port="$(free_port_other_than "$api_port")" || die "no free port"

  create_database "$DB_NAME"
  prepare_database
  step "oms serve on 127.0.0.1:$api_port (log: $WORK_DIR/server.log)"
  start_oms server "$api_port" "$web_port"
  SERVER_PID="$LAST_PID"
  create_admin "$password"

  if [ "$WITH_STRIPE" = 1 ]; then
    ensure_localstripe
    start_localstripe
    stripe_api_port="$(free_port_other_than "$api_port" "$web_port" "$LOCALSTRIPE_PORT")" || die "no free port"
    stripe_web_port="$(free_port_other_than "$api_port" "$web_port" "$LOCALSTRIPE_PORT" "$stripe_api_port")" \
      || die "no free port"
    create_database "$STRIPE_DB_NAME"
    STRIPE_DB_CREATED=1
    prepare_database
    step "oms serve with PAYMENT_PROVIDER=stripe on 127.0.0.1:$stripe_api_port (log: $WORK_DIR/stripe-server.log)"
    start_oms stripe-server "$stripe_api_port" "$stripe_web_port" PAYMENT_PROVIDER=stripe \
      STRIPE_SECRET_KEY="$STRIPE_SECRET" STRIPE_WEBHOOK_SECRET="$STRIPE_WEBHOOK_SECRET" \
      STRIPE_API_BASE="http://127.0.0.1:$LOCALSTRIPE_PORT"
    STRIPE_SERVER_PID="$LAST_PID"
    create_admin "$password"
    # localstripe sends its events (payment_intent.succeeded after 3-D Secure), signed, to oms.
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$LOCALSTRIPE_PORT/_config/webhooks/web-e2e" \
      --data-urlencode "url=http://127.0.0.1:$stripe_api_port/api/payments/stripe/webhook" \
      --data-urlencode "secret=$STRIPE_WEBHOOK_SECRET" || die "localstripe refused the webhook"
    stripe_env=(STRIPE_WEB_URL="http://127.0.0.1:$stripe_web_port" STRIPE_API_URL="http://127.0.0.1:$stripe_api_port"
      LOCALSTRIPE_URL="http://127.0.0.1:$LOCALSTRIPE_PORT" STRIPE_SECRET_KEY="$STRIPE_SECRET")
  fi

  if [ "${WEB_E2E_SKIP_BUILD:-0}" = 1 ] && [ -f "$WEB/.next-e2e/BUILD_ID" ]; then
    step "reusing web/.next-e2e (WEB_E2E_SKIP_BUILD=1)"
  else
    build_web .next-e2e "$api_port" next-build.log NEXT_PUBLIC_PAYMENT_PROVIDER=simulated
  fi
  start_web .next-e2e "$web_port" next.log
  WEB_PID="$LAST_PID"
  wait_http "http://127.0.0.1:$web_port/signin" "$WEB_PID" "next start" "$WORK_DIR/next.log" 60

  if [ "$WITH_STRIPE" = 1 ]; then
    build_web .next-e2e-stripe "$stripe_api_port" next-build-stripe.log NEXT_PUBLIC_PAYMENT_PROVIDER=stripe \
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY="$STRIPE_PUBLISHABLE" \
      NEXT_PUBLIC_STRIPE_JS_URL="http://127.0.0.1:$LOCALSTRIPE_PORT/js.stripe.com/v3/"
    start_web .next-e2e-stripe "$stripe_web_port" next-stripe.log
    STRIPE_WEB_PID="$LAST_PID"
    wait_http "http://127.0.0.1:$stripe_web_port/signin" "$STRIPE_WEB_PID" "next start (stripe)" \
      "$WORK_DIR/next-stripe.log" 60
  fi

  step "browser tests (npx playwright test; report: $WORK_DIR/report)"
  (cd "$WEB" && env WEB_URL="http://127.0.0.1:$web_port" API_URL="http://127.0.0.1:$api_port" \
    ADMIN_EMAIL="$E2E_ADMIN" ADMIN_PASSWORD="$password" CHROMIUM="$BROWSER_BIN" E2E_WORK_DIR="$WORK_DIR" \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "${stripe_env[@]}" \
    timeout --kill-after=10 "$TIMEOUT" npx playwright test "$@")
}

main "$@"
