#!/usr/bin/env bash
# `make db-bare-test`: scripts/db.sh on a bare machine, with no network and nothing installed.
#
# Runs db.sh with no DATABASE_URL, a PATH that holds none of PostgreSQL's programs (every other
# command of the real PATH is there, through symbolic links), a search folder for the binaries
# (OMS_PG_BIN_GLOB) that is empty, and a probe port (OMS_PG_PROBE_PORT) where nothing listens:
#
#   1. without apt-get on PATH, and 2. not root (user `nobody` when run as root) with apt-get:
#      db.sh must print what to install and exit non-zero, the install step never running;
#   3. as root with apt-get and no OMS_PG_INSTALL_CMD: the fake apt-get on PATH (it records its
#      calls and fails, as without package lists) must see `apt-get install -y -qq
#      --no-install-recommends postgresql`, `apt-get update -qq`, the install again, and db.sh must
#      fail saying so;
#   4. as root with apt-get: db.sh must say in one line that it installs PostgreSQL, run the
#      install step (OMS_PG_INSTALL_CMD: a stand-in that "installs" by linking the machine's real
#      PostgreSQL programs into the search folder), start a cluster in a temporary folder
#      (OMS_PG_DIR) on a free port (OMS_PG_PORT) that answers `select 1`, and print its URL; a
#      second run installs nothing; `db.sh down` stops it.
# The developer's .pgdata/ and the server on 5432 are never touched. Needs the PostgreSQL
# programs of the machine (to stand in for the package), and root for 3 and 4 (not root, only 1
# and 2 run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

TMP=""
REAL_BIN=""
INSTALL_CMD=""
DB_SH="$ROOT/scripts/db.sh"
PASSED=0
FAILED=0

cleanup() {
  local status=$?
  local data="$TMP/pgdata/data"
  if [ -n "$TMP" ] && [ -f "$data/postmaster.pid" ]; then
    if is_root; then
      (cd / && runuser -u omspg -- "$REAL_BIN/pg_ctl" -D "$data" -m immediate -w stop) >/dev/null 2>&1 || true
    else
      "$REAL_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  fi
  if [ -n "$TMP" ]; then rm -rf -- "$TMP"; fi
  exit "$status"
}

check() {
  local what="$1"
  shift
  if "$@"; then
    printf '  ok: %s\n' "$what" >&2
    PASSED=$((PASSED + 1))
  else
    printf '  FAILED: %s\n' "$what" >&2
    FAILED=$((FAILED + 1))
  fi
}

# A PostgreSQL program or wrapper, which the bare PATH must not hold.
is_postgres_program() {
  local name="$1" path="$2"
  [ -e "$REAL_BIN/$name" ] && return 0
  case "$name" in pg_* | postgres* | postmaster | psql* | initdb) return 0 ;; esac
  case "$(readlink -f "$path")" in */postgresql*) return 0 ;; esac
  return 1
}

# Folder $1 gets a link to every command on the real PATH but PostgreSQL's and apt-get; with
# $2 = fake-apt, an apt-get that only records that it was called.
make_bare_path() {
  local dir="$1" apt="$2" pathdir path name
  mkdir -p "$dir"
  IFS=: read -ra dirs <<<"$PATH"
  for pathdir in "${dirs[@]}"; do
    [ -d "$pathdir" ] || continue
    for path in "$pathdir"/*; do
      name="${path##*/}"
      if [ ! -x "$path" ] || [ -d "$path" ]; then continue; fi
      [ -e "$dir/$name" ] && continue # the first on PATH wins, as in a lookup
      [ "$name" = apt-get ] && continue
      is_postgres_program "$name" "$path" && continue
      ln -s "$path" "$dir/$name"
    done
  done
  if [ "$apt" = fake-apt ]; then
    printf '#!/bin/sh\necho "apt-get $*" >>%q\nexit 1\n' "$TMP/marks/apt-get-ran" >"$dir/apt-get"
    chmod 755 "$dir/apt-get"
  fi
}

# The stand-in for `apt-get install postgresql`: links the real programs into the search folder.
write_fake_installer() {
  local version
  version="$(basename "$(dirname "$REAL_BIN")")"
  cat >"$TMP/fake-install" <<SH
#!/bin/sh
set -eu
echo ran >>'$TMP/marks/installer-ran'
mkdir -p '$TMP/pg/$version/bin'
for program in '$REAL_BIN'/*; do ln -s "\$program" '$TMP/pg/$version/bin/'; done
echo "Setting up postgresql-$version (stand-in) ..."
SH
  chmod 755 "$TMP/fake-install"
}

# Runs db.sh $1 as the bare machine would, as user $2 (self: this user), PATH $3; output in
# $TMP/out and $TMP/err, exit status in $TMP/status.
run_db() {
  local command="$1" user="$2" path="$3" status=0
  local -a runner=()
  if [ "$user" != self ]; then runner=(runuser -u "$user" --); fi
  (cd / && ${runner[@]+"${runner[@]}"} /usr/bin/env -i \
    PATH="$path" \
    OMS_PG_BIN_GLOB="$TMP/pg/*/bin" \
    OMS_PG_INSTALL_CMD="$INSTALL_CMD" \
    OMS_PG_PROBE_PORT="$PROBE_PORT" \
    OMS_PG_DIR="$TMP/pgdata" \
    OMS_PG_PORT="$PG_PORT" \
    "$DB_SH" "$command") >"$TMP/out" 2>"$TMP/err" || status=$?
  echo "$status" >"$TMP/status"
  sed 's/^/    | /' "$TMP/err" >&2
}

install_lines() { grep -c '^db\.sh: installing PostgreSQL (' "$TMP/err" || true; }
exited_nonzero() { [ "$(cat "$TMP/status")" != 0 ]; }
exited_zero() { [ "$(cat "$TMP/status")" = 0 ]; }
printed_help() { grep -q 'no PostgreSQL found' "$TMP/err" && grep -q 'apt-get install postgresql' "$TMP/err"; }
installer_never_ran() { [ ! -e "$TMP/marks/installer-ran" ]; }
apt_never_ran() { [ ! -e "$TMP/marks/apt-get-ran" ]; }
nothing_found_on() {
  (
    PATH="$1"
    OMS_PG_BIN_GLOB="$TMP/pg/*/bin"
    ! command -v psql initdb pg_ctl pg_isready postgres >/dev/null 2>&1 && ! find_pg_bin_dir >/dev/null
  )
}
installer_output_hidden() { ! grep -q 'Setting up' "$TMP/err"; }
answers_select_1() {
  [ "$("$REAL_BIN/psql" -X -q -w -d "$(cat "$TMP/out")" -tAc 'select 1' 2>/dev/null)" = 1 ]
}
url_is_local_cluster() { [ "$(cat "$TMP/out")" = "postgres://postgres@127.0.0.1:$PG_PORT/oms" ]; }
cluster_in_tmp() { [ -f "$TMP/pgdata/data/PG_VERSION" ]; }
second_run_installed_nothing() {
  exited_zero && [ "$(install_lines)" = 0 ] && [ "$(wc -l <"$TMP/marks/installer-ran")" = 1 ]
}
stopped_cleanly() { exited_zero && cluster_stopped; }
cluster_stopped() { [ ! -f "$TMP/pgdata/data/postmaster.pid" ] && ! port_in_use "$PG_PORT"; }

bare_root_installs() {
  step "4. root, apt-get on PATH, nothing installed: db.sh url installs, then starts a cluster"
  make_bare_path "$TMP/bin-apt" fake-apt
  check "the bare PATH and search folder hold no PostgreSQL" nothing_found_on "$TMP/bin-apt"
  run_db status self "$TMP/bin-apt"
  check "db.sh status says it would install PostgreSQL" grep -q 'would install PostgreSQL' "$TMP/err"
  check "db.sh status installed nothing" installer_never_ran
  run_db url self "$TMP/bin-apt"
  check "db.sh url exited 0" exited_zero
  check "one line said it installs PostgreSQL" [ "$(install_lines)" = 1 ]
  check "the install step ran" test -e "$TMP/marks/installer-ran"
  check "apt-get itself was not called (OMS_PG_INSTALL_CMD replaced it)" apt_never_ran
  check "the installer's own output was not shown" installer_output_hidden
  check "the URL names the local cluster on port $PG_PORT" url_is_local_cluster
  check "the cluster lives in the temporary folder (OMS_PG_DIR)" cluster_in_tmp
  check "the cluster answers select 1" answers_select_1
  run_db url self "$TMP/bin-apt"
  check "a second db.sh url exits 0 and installs nothing" second_run_installed_nothing
  run_db down self "$TMP/bin-apt"
  check "db.sh down stops it" stopped_cleanly
}

# The real install step, against the fake apt-get (which fails, as without package lists).
bare_root_apt_get() {
  step "3. root, apt-get on PATH, no OMS_PG_INSTALL_CMD: the apt-get calls (a fake that fails)"
  make_bare_path "$TMP/bin-apt" fake-apt
  INSTALL_CMD=""
  run_db url self "$TMP/bin-apt"
  INSTALL_CMD="$TMP/fake-install"
  check "db.sh url exited non-zero" exited_nonzero
  check "one line said it installs PostgreSQL with apt-get" \
    grep -qx 'db\.sh: installing PostgreSQL (apt-get install postgresql)' "$TMP/err"
  check "apt-get install, apt-get update, apt-get install again, nothing else" apt_calls_as_expected
  check "it said that the install failed" grep -q 'apt-get install postgresql failed' "$TMP/err"
  rm -f "$TMP/marks/apt-get-ran"
}

apt_calls_as_expected() {
  local install="apt-get install -y -qq --no-install-recommends postgresql"
  [ "$(cat "$TMP/marks/apt-get-ran" 2>/dev/null)" = "$(printf '%s\n%s\n%s' "$install" 'apt-get update -qq' "$install")" ]
}

bare_without_apt() {
  step "1. no apt-get on PATH, nothing installed: db.sh url says what to install and fails"
  make_bare_path "$TMP/bin-noapt" no-apt
  check "the bare PATH and search folder hold no PostgreSQL" nothing_found_on "$TMP/bin-noapt"
  run_db url self "$TMP/bin-noapt"
  check "db.sh url exited non-zero" exited_nonzero
  check "it printed what to install" printed_help
  check "no line said it installs" [ "$(install_lines)" = 0 ]
  check "the install step never ran" installer_never_ran
  check "nothing was printed as a URL" [ ! -s "$TMP/out" ]
}

bare_not_root() {
  local user=self
  is_root && user=nobody
  step "2. not root ($user), apt-get on PATH, nothing installed: db.sh url says what to install and fails"
  make_bare_path "$TMP/bin-apt" fake-apt
  if [ "$user" = nobody ] && ! runuser -u nobody -- test -x "$DB_SH"; then
    # e.g. a checkout under a home folder that others may not enter: run a copy of the scripts
    mkdir -p "$TMP/copy/scripts"
    cp "$ROOT/scripts/db.sh" "$ROOT/scripts/lib.sh" "$TMP/copy/scripts/"
    chmod -R a+rX "$TMP/copy"
    DB_SH="$TMP/copy/scripts/db.sh"
  fi
  run_db url "$user" "$TMP/bin-apt"
  DB_SH="$ROOT/scripts/db.sh"
  check "db.sh url exited non-zero" exited_nonzero
  check "it printed what to install" printed_help
  check "no line said it installs" [ "$(install_lines)" = 0 ]
  check "the install step never ran" installer_never_ran
  check "apt-get was not called" apt_never_ran
}

main() {
  local started=$SECONDS
  REAL_BIN="$(find_pg_bin_dir)" \
    || die "needs the machine's PostgreSQL programs (initdb, pg_ctl) to stand in for the package"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/oms-db-bare.XXXXXX")"
  # The cluster's owner (omspg when root) must reach the programs' links and the data folder.
  chmod 755 "$TMP"
  mkdir -p "$TMP/marks" "$TMP/pg"
  chmod 1777 "$TMP/marks"
  PG_PORT="$(free_port)" || die "no free port"
  PROBE_PORT="$(free_port)" || die "no free port"
  while [ "$PROBE_PORT" = "$PG_PORT" ]; do PROBE_PORT="$(free_port)"; done
  write_fake_installer
  INSTALL_CMD="$TMP/fake-install"

  if is_root; then
    bare_without_apt
    bare_not_root
    bare_root_apt_get
    bare_root_installs
  else
    warn "not root: cases 3 and 4 (the install) need root"
    bare_without_apt
    bare_not_root
  fi
  if [ "$FAILED" -ne 0 ]; then
    die "$PASSED passed, $FAILED failed"
  fi
  step "db-bare-test: $PASSED checks passed ($((SECONDS - started)) s)"
}

main "$@"
