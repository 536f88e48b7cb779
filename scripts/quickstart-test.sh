#!/usr/bin/env bash
# `make quickstart-test`: the README's quick start, followed from a fresh clone.
#
# Clones this repository's HEAD (committed work only) into a temporary folder, runs `make run`
# there in the background, in its own process group, on a free 127.0.0.1 port (BIND_ADDR) and
# with its own fresh database on the PostgreSQL that scripts/db.sh finds (DATABASE_URL); waits for
# /readyz to answer 200; reads the demo admin's and the first demo customer's credentials from the
# banner `make run` prints and signs in with them (POST /api/auth/login must answer 200, as an ADMIN
# and as a CUSTOMER); checks that the demo catalogue is listed and that no process of the group is
# left defunct; then sends SIGTERM to the process group and requires everything to exit within 30 s.
# The temporary clone and the database are removed on exit, whatever happened.
#
# The clone builds into this checkout's Cargo target folder (CARGO_TARGET_DIR), so the
# dependencies are not rebuilt. The workspace's own crates get a distinct profile identity there
# (a `codegen-units` override in a .cargo/config.toml placed *beside* the clone, so the clone itself
# stays untouched): otherwise the clone's build would overwrite this checkout's artifacts of the
# same crates, and Cargo, comparing file times, would then take uncommitted edits older than that
# build for already compiled. Only the uplifted target/debug/oms is shared; the next cargo build
# here links it back.
#
# Guard: the test sets OMS_QUICKSTART_TEST=1 for everything it starts, and skips itself when it
# finds that variable set, so a clone's `make test` can never start another clone.
#
# Settings (environment): QUICKSTART_TIMEOUT (seconds from `make run` to /readyz 200, build
# included, default 240).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly TIMEOUT="${QUICKSTART_TIMEOUT:-240}"
readonly STOP_TIMEOUT=30
readonly DB_NAME="oms_quickstart_$$"
readonly TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
readonly KEPT_LOG="$TARGET_DIR/quickstart-test.log"

TMP=""
MAKE_PID=""
ADMIN_DB_URL=""

# Live (not zombie) processes in process group $1.
group_alive() {
  ps -A -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# SIGTERM to the process group of `make run`, then wait (bounded) until all of it has exited.
stop_group() {
  local waited=0
  [ -n "$MAKE_PID" ] || return 0
  kill -TERM -- "-$MAKE_PID" 2>/dev/null || true
  while group_alive "$MAKE_PID"; do
    if [ "$waited" -ge $((STOP_TIMEOUT * 10)) ]; then
      kill -KILL -- "-$MAKE_PID" 2>/dev/null || true
      wait "$MAKE_PID" 2>/dev/null || true
      MAKE_PID=""
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  wait "$MAKE_PID" 2>/dev/null || true
  MAKE_PID=""
}

cleanup() {
  local status=$?
  stop_group || warn "make run had to be killed"
  if [ -n "$TMP" ] && [ -f "$TMP/make-run.log" ]; then
    { mkdir -p "$TARGET_DIR" && cp "$TMP/make-run.log" "$KEPT_LOG"; } 2>/dev/null \
      || warn "could not keep the log in $KEPT_LOG"
  fi
  drop_database "$DB_NAME"
  if [ -n "$TMP" ]; then rm -rf -- "$TMP"; fi
  exit "$status"
}

fail() {
  if [ -n "$TMP" ] && [ -f "$TMP/make-run.log" ]; then
    printf -- '--- last lines of make run (full log: %s) ---\n' "$KEPT_LOG" >&2
    tail -n 40 "$TMP/make-run.log" >&2
    printf -- '---\n' >&2
  fi
  die "$*"
}

# Writes a Cargo configuration beside the clone giving its workspace crates their own artifacts.
isolate_workspace_artifacts() {
  local clone="$1" json id name
  json="$(cargo metadata --no-deps --format-version 1 --manifest-path "$clone/Cargo.toml")"
  mkdir -p "$TMP/.cargo"
  {
    echo "# Written by scripts/quickstart-test.sh: see its header."
    for id in $(printf '%s' "$json" | grep -o '"workspace_members":\[[^]]*\]' \
        | grep -o '"path+file://[^"]*"' | tr -d '"'); do
      # path+file:///dir#version, or path+file:///dir#name@version when name and dir differ
      name="${id#*#}"
      if [[ "$name" == *@* ]]; then name="${name%@*}"; else name="${id%%#*}"; name="${name##*/}"; fi
      printf '[profile.dev.package.%s]\ncodegen-units = 255\n' "$name"
      printf '[profile.release.package.%s]\ncodegen-units = 15\n' "$name"
    done
  } >"$TMP/.cargo/config.toml"
}

# Starts `make run` in the clone, in its own process group (job control), as a newcomer would.
start_make_run() {
  local clone="$1" port="$2" db_url="$3"
  step "make run in the clone (BIND_ADDR=127.0.0.1:$port, database $DB_NAME)"
  set -m
  (
    cd "$clone"
    unset MAKEFLAGS MAKELEVEL MFLAGS ADMIN_EMAIL ADMIN_PASSWORD JWT_SECRET PUBLIC_ORIGIN
    exec env CARGO_TARGET_DIR="$TARGET_DIR" BIND_ADDR="127.0.0.1:$port" \
      DATABASE_URL="$db_url" make run
  ) >"$TMP/make-run.log" 2>&1 </dev/null &
  MAKE_PID=$!
  set +m
}

# Waits until /readyz answers 200, `make run` stops, or the time is up.
wait_ready() {
  local base="$1" deadline=$((SECONDS + TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    group_alive "$MAKE_PID" || fail "make run exited before /readyz answered"
    if [ "$(curl -sS -o /dev/null -w '%{http_code}' "$base/readyz" 2>/dev/null)" = "200" ]; then
      return 0
    fi
    sleep 1
  done
  fail "/readyz did not answer 200 within $TIMEOUT s"
}

# Prints "email password" from the banner `make run` prints once the server answers: of the demo
# admin ($1 = Admin) or of the first demo customer ($1 = Customers).
printed_credentials() {
  local who="$1" line deadline=$((SECONDS + 15))
  while [ "$SECONDS" -lt "$deadline" ]; do
    line="$(sed -nE "s#^ +$who +([^ ,]+)[^/]* / ([^ ]+).*#\\1 \\2#p" "$TMP/make-run.log" | tail -n 1)"
    if [ -n "$line" ]; then printf '%s\n' "$line"; return 0; fi
    sleep 0.5
  done
  fail "make run printed no demo credentials on its '$who' line"
}

# Signs in as $2 with password $3, which must answer 200 with role $4.
check_login() {
  local base="$1" email="$2" password="$3" role="$4" status
  step "POST /api/auth/login as $email"
  status="$(curl -sS -o "$TMP/login.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$base/api/auth/login")"
  [ "$status" = "200" ] || fail "POST /api/auth/login answered $status: $(head -c 500 "$TMP/login.json")"
  grep -q "\"role\": *\"$role\"" "$TMP/login.json" \
    || fail "the demo login of $email is not a $role: $(head -c 500 "$TMP/login.json")"
}

# Fails when a process of `make run`'s group stays defunct (a child nobody waits for); one seen
# once may be on its way out, so it must be there at three looks, half a second apart.
check_no_zombie() {
  local look zombies=""
  step "no defunct process in make run's process group"
  for look in 1 2 3; do
    zombies="$(ps -A -o pgid=,pid=,stat=,args= | awk -v g="$MAKE_PID" '$1 == g && $3 ~ /^Z/')"
    [ -n "$zombies" ] || return 0
    [ "$look" = 3 ] || sleep 0.5
  done
  fail "defunct processes in make run's process group: $zombies"
}

check_catalogue() {
  local base="$1" status
  step "GET /api/products?limit=1"
  status="$(curl -sS -o "$TMP/products.json" -w '%{http_code}' "$base/api/products?limit=1")"
  [ "$status" = "200" ] || fail "GET /api/products answered $status"
  grep -q '"sku"' "$TMP/products.json" \
    || fail "the demo catalogue is empty: $(head -c 500 "$TMP/products.json")"
}

main() {
  local started=$SECONDS clone port db_url base credentials
  if [ "${OMS_QUICKSTART_TEST:-}" = "1" ]; then
    echo "quickstart-test.sh: skipped: already inside a quick-start test (OMS_QUICKSTART_TEST=1)" >&2
    exit 0
  fi
  export OMS_QUICKSTART_TEST=1
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  TMP="$(mktemp -d "${TMPDIR:-/tmp}/oms-quickstart.XXXXXX")"
  clone="$TMP/oms"
  step "git clone (HEAD $(git -C "$ROOT" rev-parse --short HEAD)) into $clone"
  git clone --quiet --no-hardlinks "$ROOT" "$clone"
  isolate_workspace_artifacts "$clone"

  # The database itself is created by `make run` (scripts/db.sh creates DATABASE_URL's database).
  use_database_named "$DB_NAME"
  db_url="$DATABASE_URL"
  port="$(free_port)" || die "no free port found on 127.0.0.1"
  base="http://127.0.0.1:$port"

  start_make_run "$clone" "$port" "$db_url"
  wait_ready "$base"
  step "/readyz 200 after $((SECONDS - started)) s"
  credentials="$(printed_credentials Admin)"
  check_login "$base" "${credentials%% *}" "${credentials#* }" ADMIN
  credentials="$(printed_credentials Customers)"
  check_login "$base" "${credentials%% *}" "${credentials#* }" CUSTOMER
  check_catalogue "$base"
  step "the start-up log says email is off (no SMTP_URL)"
  grep -q "email is off" "$TMP/make-run.log" || fail "make run did not say that email is off"
  check_no_zombie

  step "SIGTERM to make run's process group"
  stop_group || fail "make run did not exit within $STOP_TIMEOUT s of SIGTERM"
  step "quickstart-test: passed ($((SECONDS - started)) s)"
}

main "$@"
