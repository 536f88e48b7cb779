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
# Settings (environment): PROFILE (cargo profile, default dev), OMS_BIN (a prebuilt oms), CHROMIUM
# (the browser; default as above), WEB_E2E_SKIP_BUILD=1 (reuse web/.next-e2e: only when it was built for
# the same API port, i.e. never in CI), RUST_LOG (the server's, default warn). Arguments are passed to
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

SERVER_PID=""
WEB_PID=""
ADMIN_DB_URL=""
STARTED_AT=$SECONDS

step_tag() { printf 'web-e2e %3ss' "$((SECONDS - STARTED_AT))"; }

cleanup() {
  local status=$?
  # next start runs in its own process group (setsid): stop the group.
  if [ -n "$WEB_PID" ]; then kill -TERM -- "-$WEB_PID" 2>/dev/null || true; fi
  stop_pid "$WEB_PID"
  stop_pid "$SERVER_PID"
  drop_database "$DB_NAME"
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

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$WORK_DIR"
  ensure_chromium
  ensure_node_modules
  local oms api_port web_port password
  if [ -n "${OMS_BIN:-}" ]; then oms="$OMS_BIN"; else oms="$(build_oms)"; fi
  create_database "$DB_NAME"
  step "oms migrate"
  "$oms" migrate >"$WORK_DIR/migrate.log" 2>&1 || { cat "$WORK_DIR/migrate.log" >&2; die "oms migrate failed"; }

  api_port="$(free_port)" || die "no free port"
  web_port="$(free_port)" || die "no free port"
  while [ "$web_port" = "$api_port" ]; do web_port="$(free_port)"; done

  step "oms serve on 127.0.0.1:$api_port (log: $WORK_DIR/server.log)"
  APP_ENV=development COOKIE_SECURE=false BIND_ADDR="127.0.0.1:$api_port" \
    PUBLIC_ORIGIN="http://127.0.0.1:$web_port" \
    JWT_SECRET="web-e2e-secret-0123456789abcdef0123456789abcdef" \
    RATE_LIMIT_AUTH_PER_MINUTE=0 RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_ORDERS_PER_MINUTE=0 \
    TAX_RATES="GB=2000,DE=1900" \
    WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_PRIVATE=true WEBHOOK_RETRY_SCHEDULE="1s,1s" \
    RUST_LOG="${RUST_LOG:-warn}" \
    "$oms" serve >"$WORK_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$api_port/readyz" "$SERVER_PID" "oms serve" "$WORK_DIR/server.log" 30

  password="$(random_hex 16)"
  ADMIN_PASSWORD="$password" "$oms" create-admin --email "$E2E_ADMIN" >"$WORK_DIR/admin.log" 2>&1 \
    || { cat "$WORK_DIR/admin.log" >&2; die "oms create-admin failed"; }

  export NEXT_DIST_DIR=".next-e2e"
  if [ "${WEB_E2E_SKIP_BUILD:-0}" = 1 ] && [ -f "$WEB/$NEXT_DIST_DIR/BUILD_ID" ]; then
    step "reusing web/$NEXT_DIST_DIR (WEB_E2E_SKIP_BUILD=1)"
  else
    step "next build (OMS_API_URL=http://127.0.0.1:$api_port; log: $WORK_DIR/next-build.log)"
    (cd "$WEB" && NEXT_TELEMETRY_DISABLED=1 OMS_API_URL="http://127.0.0.1:$api_port" npx next build) \
      >"$WORK_DIR/next-build.log" 2>&1 || { tail -n 40 "$WORK_DIR/next-build.log" >&2; die "next build failed"; }
  fi

  step "next start on 127.0.0.1:$web_port (log: $WORK_DIR/next.log)"
  # web/e2e/proxy-keepalive.mjs: the /api proxy drops idle connections to oms before oms does (a
  # reused connection that oms was closing made a request fail with 500 now and then).
  (cd "$WEB" && NEXT_TELEMETRY_DISABLED=1 NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--import=./e2e/proxy-keepalive.mjs" \
    exec setsid npx next start --hostname 127.0.0.1 --port "$web_port") \
    >"$WORK_DIR/next.log" 2>&1 &
  WEB_PID=$!
  wait_http "http://127.0.0.1:$web_port/signin" "$WEB_PID" "next start" "$WORK_DIR/next.log" 60

  step "browser tests (npx playwright test; report: $WORK_DIR/report)"
  (cd "$WEB" && WEB_URL="http://127.0.0.1:$web_port" API_URL="http://127.0.0.1:$api_port" \
    ADMIN_EMAIL="$E2E_ADMIN" ADMIN_PASSWORD="$password" CHROMIUM="$BROWSER_BIN" E2E_WORK_DIR="$WORK_DIR" \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    timeout --kill-after=10 "$TIMEOUT" npx playwright test "$@")
}

main "$@"
