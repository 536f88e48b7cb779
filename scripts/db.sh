#!/usr/bin/env bash
# Find or start a PostgreSQL server for this project and print its DATABASE_URL.
#
#   scripts/db.sh [url]   print a usable DATABASE_URL (starting a local cluster if needed)
#   scripts/db.sh env     print `export DATABASE_URL=...` (use: eval "$(scripts/db.sh env)")
#   scripts/db.sh status  say which server would be used, start nothing
#   scripts/db.sh down    stop the project-local cluster if this script started it (else no-op)
#   scripts/db.sh clean   stop the project-local cluster and delete its data
#
# How the server is chosen, first match wins:
#   a. DATABASE_URL, when set (it must answer `pg_isready`);
#   b. the PostgreSQL on 127.0.0.1:5432, used as postgres://postgres@127.0.0.1:5432/oms, when it
#      answers and lets user `postgres` in without a password (skipped when OMS_DB_FORCE_LOCAL=1);
#   c. a project-local cluster started from the installed PostgreSQL binaries: data in .pgdata/,
#      port 54329 (OMS_PG_PORT), listening on 127.0.0.1 only, trust authentication, tuned for
#      throwaway development data (fsync off). PostgreSQL refuses to run as root, so as root the
#      cluster belongs to the system user `omspg`, created on first use;
#   d. no binaries, but root with apt-get (a bare Debian/Ubuntu machine): installs Debian's
#      `postgresql` package quietly (one line says so), then as (c);
#   e. otherwise it prints what to install and exits 1.
# The database `oms` is created when missing. The URL's user may CREATE DATABASE (the test harness
# needs that). Only the URL goes to standard output; every message goes to standard error.
# For tests (scripts/db-bare-test.sh): OMS_PG_PROBE_PORT (the port of (b), default 5432),
# OMS_PG_BIN_GLOB (the folders searched for the binaries, see scripts/lib.sh), OMS_PG_DIR (the
# cluster's folder, default .pgdata/) and OMS_PG_INSTALL_CMD (a command run instead of apt-get).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly DB_NAME="oms"
readonly DEFAULT_HOST="127.0.0.1"
readonly DEFAULT_PORT="${OMS_PG_PROBE_PORT:-5432}"
readonly LOCAL_PORT="${OMS_PG_PORT:-54329}"
readonly LOCAL_OS_USER="omspg"
readonly SUPERUSER="postgres"

print_install_help() {
  cat >&2 <<'TXT'
db.sh: no PostgreSQL found. Either
  - set DATABASE_URL to a PostgreSQL 15+ server where the user may CREATE DATABASE, or
  - install PostgreSQL and run this again (a project-local cluster is started from its binaries):
      Debian/Ubuntu:  sudo apt-get install postgresql   (run as root, this script does it)
      Fedora/RHEL:    sudo dnf install postgresql-server
      macOS:          brew install postgresql@15
TXT
}

# --- branch (d): a bare machine ----------------------------------------------------------------

# Succeeds when this script may install PostgreSQL itself: as root, with apt-get on PATH.
can_install() {
  is_root && command -v apt-get >/dev/null 2>&1
}

# Installs Debian's `postgresql` package (or runs OMS_PG_INSTALL_CMD instead), saying so in one
# line; the installer's own output is shown only when it fails.
install_postgres() {
  local log status=0
  if [ -z "${OMS_PG_INSTALL_CMD:-}" ]; then
    say "installing PostgreSQL (apt-get install postgresql)"
    apt_install --no-install-recommends postgresql || die "apt-get install postgresql failed (above)"
    return 0
  fi
  say "installing PostgreSQL ($OMS_PG_INSTALL_CMD)"
  log="$(mktemp)"
  bash -c "$OMS_PG_INSTALL_CMD" >"$log" 2>&1 || status=$?
  [ "$status" -eq 0 ] || tail -n 20 "$log" >&2
  rm -f "$log"
  [ "$status" -eq 0 ] || die "the install command failed (exit $status)"
}

# --- URL helpers -------------------------------------------------------------------------------

# The URL's database name when it is of the form scheme://authority/dbname[?query], else nothing.
url_db_name() {
  local url="${1%%\?*}"
  [[ "$url" =~ ^postgres(ql)?://[^/]+/([^/]+)$ ]] && printf '%s\n' "${BASH_REMATCH[2]}"
}

# Succeeds when psql can log in with the URL.
can_login() {
  local psql
  psql="$(pg_tool psql)" || return 1
  PGCONNECT_TIMEOUT=5 "$psql" -X -q -w -d "$1" -tAc 'SELECT 1' >/dev/null 2>&1
}

# Creates the URL's database when it is missing. Best effort for a caller's own DATABASE_URL.
ensure_database() {
  local url="$1" db admin_url psql exists
  db="$(url_db_name "$url")" || return 0
  can_login "$url" && return 0
  psql="$(pg_tool psql)" || { say "psql not found: cannot create database '$db'"; return 0; }
  admin_url="$(url_with_db "$url" postgres)"
  can_login "$admin_url" || return 0
  exists="$(PGCONNECT_TIMEOUT=5 "$psql" -X -q -w -d "$admin_url" -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '${db//\'/\'\'}'")"
  if [ "$exists" != "1" ]; then
    say "creating database '$db'"
    PGCONNECT_TIMEOUT=5 "$psql" -X -q -w -d "$admin_url" \
      -c "CREATE DATABASE \"${db//\"/\"\"}\"" >/dev/null
  fi
}

# --- branch (a) and (b) ------------------------------------------------------------------------

from_env_url() {
  local isready
  if isready="$(pg_tool pg_isready)"; then
    "$isready" -q -t 5 -d "$DATABASE_URL" \
      || die "DATABASE_URL is set but its server does not answer (pg_isready -d \"\$DATABASE_URL\")"
  else
    say "pg_isready not found: using DATABASE_URL unchecked"
  fi
  ensure_database "$DATABASE_URL"
  printf '%s\n' "$DATABASE_URL"
}

# Succeeds when the default server answers and lets user `postgres` in without a password.
default_server_usable() {
  local isready
  isready="$(pg_tool pg_isready)" || return 1
  "$isready" -q -t 3 -h "$DEFAULT_HOST" -p "$DEFAULT_PORT" || return 1
  if ! can_login "postgres://$SUPERUSER@$DEFAULT_HOST:$DEFAULT_PORT/postgres"; then
    say "a server answers on $DEFAULT_HOST:$DEFAULT_PORT but user '$SUPERUSER' cannot log in without"
    say "a password; set DATABASE_URL to use it. Falling back to a project-local cluster."
    return 1
  fi
}

from_default_server() {
  local url="postgres://$SUPERUSER@$DEFAULT_HOST:$DEFAULT_PORT/$DB_NAME"
  ensure_database "$url"
  printf '%s\n' "$url"
}

# --- branch (c): the project-local cluster -----------------------------------------------------

# Where the cluster lives: OMS_PG_DIR when set, else .pgdata/ in the checkout, unless we are root
# and the unprivileged cluster owner cannot reach the checkout (e.g. a clone under /root): then a
# fixed folder per checkout under /var/tmp.
cluster_base() {
  local preferred="$ROOT/.pgdata"
  if [ -n "${OMS_PG_DIR:-}" ]; then
    printf '%s\n' "$OMS_PG_DIR"
  elif is_root && id "$LOCAL_OS_USER" >/dev/null 2>&1 \
      && ! runuser -u "$LOCAL_OS_USER" -- test -x "$ROOT" 2>/dev/null; then
    printf '/var/tmp/oms-pgdata-%s\n' "$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
  else
    printf '%s\n' "$preferred"
  fi
}

ensure_os_user() {
  id "$LOCAL_OS_USER" >/dev/null 2>&1 && return 0
  say "running as root: creating system user '$LOCAL_OS_USER' to own the local PostgreSQL cluster"
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$LOCAL_OS_USER" >&2 \
      || id "$LOCAL_OS_USER" >/dev/null 2>&1 # lost a race with a parallel run: fine
  elif command -v adduser >/dev/null 2>&1; then
    adduser -S -D -H "$LOCAL_OS_USER" >&2
  else
    die "cannot create user '$LOCAL_OS_USER' (no useradd/adduser); run as a normal user instead"
  fi
}

# Runs a command as the cluster's owner (omspg when we are root), from a directory it can read.
as_owner() {
  if is_root; then
    (cd / && runuser -u "$LOCAL_OS_USER" -- "$@")
  else
    "$@"
  fi
}

# The port a running cluster listens on (line 4 of postmaster.pid).
running_port() {
  sed -n '4p' "$1/postmaster.pid" 2>/dev/null
}

cluster_running() {
  local data="$1" bin="$2"
  [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

init_cluster() {
  local data="$1" bin="$2" log="$3"
  say "initialising a project-local PostgreSQL cluster in $data"
  as_owner "$bin/initdb" -D "$data" -U "$SUPERUSER" --auth=trust --encoding=UTF8 --locale=C \
    >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "initdb failed (log: $log)"; }
  # Development data only: speed over durability. Port and addresses are given at start.
  cat >>"$data/postgresql.conf" <<'CONF'

# --- added by scripts/db.sh: a throwaway development cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
}

# Starts (initialising on first use) the project-local cluster from the binaries in $1.
from_local_cluster() {
  local bin="$1" base data log port url
  is_root && ensure_os_user
  base="$(cluster_base)"
  data="$base/data"
  log="$base/postgres.log"
  mkdir -p "$base"
  is_root && chown "$LOCAL_OS_USER" "$base"
  [ -e "$log" ] || { : >"$log"; is_root && chown "$LOCAL_OS_USER" "$log"; }

  # One starter at a time (make run and make test may race).
  exec 9>"$base/lock"
  command -v flock >/dev/null 2>&1 && flock 9

  [ -f "$data/PG_VERSION" ] || init_cluster "$data" "$bin" "$log"
  if ! cluster_running "$data" "$bin"; then
    if "$bin/pg_isready" -q -t 2 -h "$DEFAULT_HOST" -p "$LOCAL_PORT" 2>/dev/null; then
      die "port $LOCAL_PORT is taken by another server; set OMS_PG_PORT to a free port"
    fi
    say "starting the project-local PostgreSQL on $DEFAULT_HOST:$LOCAL_PORT (stop: make db-down)"
    # 9>&-: the server must not inherit the lock, or the next start would wait for ever.
    as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $LOCAL_PORT" start >/dev/null 9>&- \
      || { tail -n 20 "$log" >&2; die "pg_ctl start failed (log: $log)"; }
  fi
  port="$(running_port "$data")"
  url="postgres://$SUPERUSER@$DEFAULT_HOST:${port:-$LOCAL_PORT}/$DB_NAME"
  ensure_database "$url"
  printf '%s\n' "$url"
}

stop_local_cluster() {
  local bin base data
  base="$(cluster_base)"
  data="$base/data"
  if [ ! -f "$data/postmaster.pid" ]; then
    say "no project-local cluster is running"
    return 0
  fi
  bin="$(find_pg_bin_dir)" || die "cannot find pg_ctl to stop the cluster in $data"
  say "stopping the project-local PostgreSQL ($data)"
  as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
}

# --- entry point -------------------------------------------------------------------------------

# Errors inside functions called from an `if` would not stop the script (set -e is off there),
# so the branches are chosen with side-effect-free checks and then run outside any condition.
resolve_url() {
  local bin
  if [ -n "${DATABASE_URL:-}" ]; then
    from_env_url
  elif [ "${OMS_DB_FORCE_LOCAL:-0}" != "1" ] && default_server_usable; then
    from_default_server
  elif bin="$(find_pg_bin_dir)"; then
    from_local_cluster "$bin"
  elif can_install; then
    install_postgres
    bin="$(find_pg_bin_dir)" \
      || die "PostgreSQL was installed, but no folder holds its initdb and pg_ctl"
    from_local_cluster "$bin"
  else
    print_install_help
    exit 1
  fi
}

describe() {
  local isready
  if [ -n "${DATABASE_URL:-}" ]; then say "would use DATABASE_URL"; return; fi
  isready="$(pg_tool pg_isready || true)"
  if [ "${OMS_DB_FORCE_LOCAL:-0}" != "1" ] && [ -n "$isready" ] \
      && "$isready" -q -t 3 -h "$DEFAULT_HOST" -p "$DEFAULT_PORT"; then
    say "would use the server on $DEFAULT_HOST:$DEFAULT_PORT"
  elif find_pg_bin_dir >/dev/null; then
    local data
    data="$(cluster_base)/data"
    if [ -f "$data/postmaster.pid" ]; then
      say "would use the project-local cluster, running on port $(running_port "$data")"
    else
      say "would start the project-local cluster in $data on port $LOCAL_PORT"
    fi
  elif can_install; then
    say "would install PostgreSQL (apt-get install postgresql), then start the project-local"
    say "cluster in $(cluster_base)/data on port $LOCAL_PORT"
  else
    print_install_help
  fi
}

main() {
  case "${1:-url}" in
    url) resolve_url ;;
    env)
      local url
      url="$(resolve_url)"
      printf 'export DATABASE_URL=%q\n' "$url"
      ;;
    status) describe ;;
    down) stop_local_cluster ;;
    clean)
      stop_local_cluster
      say "deleting $(cluster_base)"
      rm -rf -- "$(cluster_base)"
      ;;
    -h | --help | help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2 ;;
    *) die "unknown command '$1' (try: url, env, status, down, clean)" ;;
  esac
}

main "$@"
