# shellcheck shell=bash
# Helpers shared by the scripts (sourced, never run): messages, PostgreSQL's tools, building oms,
# a database of one's own, ports, processes. The caller sets `ROOT` (the checkout) before sourcing.
#
# Messages go to standard error, prefixed with the calling script's name. A caller that wants more
# in its step lines (a clock, the elapsed time) defines `step_tag`, printed in brackets after `==>`.

LIB_SCRIPT="${0##*/}"

say() { printf '%s: %s\n' "$LIB_SCRIPT" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$LIB_SCRIPT" "$*" >&2; }
die() { say "$*"; exit 1; }
step() {
  if declare -F step_tag >/dev/null; then
    printf '==> [%s] %s\n' "$(step_tag)" "$*" >&2
  else
    printf '==> %s\n' "$*" >&2
  fi
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# --- PostgreSQL's programs ---------------------------------------------------------------------

# Folders that may hold PostgreSQL's programs, newest version first. Debian/Ubuntu keep them off
# PATH; Homebrew and the PGDG RPMs use versioned folders. OMS_PG_BIN_GLOB replaces the list of
# patterns (space-separated), e.g. for a test that must not find the installed server.
pg_bin_dirs() {
  local patterns="${OMS_PG_BIN_GLOB:-/usr/lib/postgresql/*/bin /usr/pgsql-*/bin /opt/homebrew/opt/postgresql@*/bin /usr/local/opt/postgresql@*/bin}"
  # shellcheck disable=SC2012,SC2086 # the patterns are globs, and these paths hold no spaces
  ls -d $patterns 2>/dev/null | sort -rV || true
}

# The folder of PostgreSQL's server programs (initdb, pg_ctl, postgres), or nothing (status 1).
find_pg_bin_dir() {
  local candidate
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    candidate="$(dirname "$(readlink -f "$(command -v initdb)")")"
    if [ -x "$candidate/pg_ctl" ]; then printf '%s\n' "$candidate"; return 0; fi
  fi
  for candidate in $(pg_bin_dirs); do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
      printf '%s\n' "$candidate"; return 0
    fi
  done
  return 1
}

# A PostgreSQL program ($1: psql, pg_isready, pgbench, ...): on PATH, else beside the server
# programs, else in any installed version's folder (a client-only install). Status 1 when none.
pg_tool() {
  local name="$1" dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  if dir="$(find_pg_bin_dir)" && [ -x "$dir/$name" ]; then printf '%s\n' "$dir/$name"; return 0; fi
  for dir in $(pg_bin_dirs); do
    if [ -x "$dir/$name" ]; then printf '%s\n' "$dir/$name"; return 0; fi
  done
  return 1
}

# --- databases ---------------------------------------------------------------------------------

# The URL (scheme://authority/db[?query]) pointed at another database.
url_with_db() {
  local url="$1" db="$2" query=""
  if [[ "$url" == *\?* ]]; then query="?${url#*\?}"; url="${url%%\?*}"; fi
  [[ "$url" =~ ^postgres(ql)?://[^/]+/[^/]*$ ]] || die "cannot read the database URL's form"
  printf '%s/%s%s\n' "${url%/*}" "$db" "$query"
}

# Exports DATABASE_URL from scripts/db.sh (which finds or starts the server).
use_database() {
  DATABASE_URL="$("$ROOT/scripts/db.sh" url)"
  export DATABASE_URL
}

# Points DATABASE_URL at database $1 on the server scripts/db.sh finds, and ADMIN_DB_URL at that
# server's maintenance database `postgres` (for drop_database); creates nothing.
use_database_named() {
  local base_url
  base_url="$("$ROOT/scripts/db.sh" url)"
  ADMIN_DB_URL="$(url_with_db "$base_url" postgres)"
  DATABASE_URL="$(url_with_db "$base_url" "$1")"
  export DATABASE_URL
}

# use_database_named $1, then creates that database (it must not exist).
create_database() {
  use_database_named "$1"
  step "fresh database $1"
  "$(pg_tool psql)" -X -q -w -d "$ADMIN_DB_URL" -c "CREATE DATABASE \"$1\"" >/dev/null
}

# Drops database $1 (with its connections) when use_database_named has run; warns on failure.
drop_database() {
  [ -n "${ADMIN_DB_URL:-}" ] || return 0
  "$(pg_tool psql)" -X -q -w -d "$ADMIN_DB_URL" \
    -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 \
    || warn "could not drop database $1"
}

# --- Python tools ------------------------------------------------------------------------------

# A Python 3 interpreter of at least 3.$1: $2 when set (an override the caller's user gave), else
# python3 or a versioned name on PATH. Status 1 when none.
find_python() {
  local min_minor="$1" preferred="${2:-}" candidate
  for candidate in "$preferred" python3 python3.13 python3.12 python3.11 python3.10 python3.9; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c "import sys; sys.exit(sys.version_info < (3, $min_minor))" 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# Creates the virtualenv $1 and installs the pinned requirements file $2 into it, unless it
# already holds exactly them (a copy of $2 inside it is the stamp). $3: the least Python 3 minor
# version; $4: the variable that names an interpreter to prefer (for the messages, and read).
ensure_pinned_venv() {
  local venv="$1" requirements="$2" min_minor="$3" override="${4:-}" python stamp
  stamp="$venv/$(basename "$requirements")"
  if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$stamp"; then return 0; fi
  python="$(find_python "$min_minor" "${override:+${!override:-}}")" \
    || die "Python 3.$min_minor or newer is needed${override:+ (set $override)}"
  step "virtualenv ${venv#"$ROOT"/} with ${requirements#"$ROOT"/} ($("$python" --version))"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
}

# --- localstripe -------------------------------------------------------------------------------

# Installs localstripe (pinned in scripts/requirements-stripe.txt) into the virtualenv .venv/stripe
# with the launcher scripts/localstripe-loopback.py as .venv/stripe/bin/localstripe-loopback (run
# by the virtualenv's interpreter; localstripe on 127.0.0.1 only, its store in memory, printing
# `LISTENING <port>` first), and sets LOCALSTRIPE_LAUNCHER to the launcher's path.
# STRIPE_TEST_PYTHON names an interpreter to prefer.
ensure_localstripe() {
  local venv="$ROOT/.venv/stripe"
  LOCALSTRIPE_LAUNCHER="$venv/bin/localstripe-loopback"
  ensure_pinned_venv "$venv" "$ROOT/scripts/requirements-stripe.txt" 9 STRIPE_TEST_PYTHON
  { printf '#!%s\n' "$venv/bin/python"; cat "$ROOT/scripts/localstripe-loopback.py"; } \
    >"$LOCALSTRIPE_LAUNCHER.tmp"
  chmod +x "$LOCALSTRIPE_LAUNCHER.tmp"
  mv "$LOCALSTRIPE_LAUNCHER.tmp" "$LOCALSTRIPE_LAUNCHER"
}

# --- building ----------------------------------------------------------------------------------

# `cargo build ARGS...` in the checkout; prints the executables built, one a line (from Cargo's
# artifact report, so CARGO_TARGET_DIR and custom profiles just work).
cargo_build_executables() {
  local out
  out="$(cd "$ROOT" && cargo build "$@" --message-format=json-render-diagnostics)" || return 1
  printf '%s\n' "$out" | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 || true
}

# Builds the `oms` binary with the cargo profile PROFILE (default dev) and prints its path. $1,
# when given, is added to the step line.
# shellcheck disable=SC2120 # $1 is optional
build_oms() {
  local profile="${PROFILE:-dev}" exe
  step "building oms (cargo profile '$profile'${1:+$1})"
  exe="$(cargo_build_executables --profile "$profile" -p api --bin oms)" || die "cargo build failed"
  exe="$(printf '%s\n' "$exe" | grep '/oms$' | tail -n 1)" || true
  if [ -z "$exe" ] || [ ! -x "$exe" ]; then die "cargo built no 'oms' executable"; fi
  printf '%s\n' "$exe"
}

# --- ports and processes -----------------------------------------------------------------------

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A TCP port on 127.0.0.1 that nothing listens on, below Linux's ephemeral range.
free_port() {
  local port tries
  for tries in $(seq 1 50); do
    port=$((20000 + (RANDOM + tries) % 12000))
    if ! port_in_use "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  return 1
}

# SIGTERM to child process $1, SIGKILL when it is still there after $2 tenths of a second
# (default 100), then reaps it.
stop_pid() {
  local pid="$1" tenths="${2:-100}" waited=0
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$tenths" ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# --- other -------------------------------------------------------------------------------------

# $1 random bytes as hex.
random_hex() {
  od -An -N "$1" -tx1 /dev/urandom | tr -d ' \n'
}

# `apt-get install` of Debian packages (the arguments: packages and options), quiet, as root:
# when it fails (e.g. no package lists yet on a new machine) runs `apt-get update` once and tries
# again. Output goes to standard error only on failure.
apt_install() {
  local log status=0
  log="$(mktemp)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1 || {
    apt-get update -qq >>"$log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$log" 2>&1 || status=$?
  }
  [ "$status" -eq 0 ] || tail -n 20 "$log" >&2
  rm -f "$log"
  return "$status"
}
