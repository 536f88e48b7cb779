# shellcheck shell=bash
# Helpers shared by the test and tool scripts (sourced, never run). The caller defines `die`.

# The psql client: on PATH, or from an installed PostgreSQL's bin folder.
psql_tool() {
  local candidate
  if command -v psql >/dev/null 2>&1; then command -v psql; return 0; fi
  for candidate in /usr/lib/postgresql/*/bin/psql /usr/pgsql-*/bin/psql; do
    if [ -x "$candidate" ]; then printf '%s\n' "$candidate"; return 0; fi
  done
  return 1
}

# The URL (scheme://authority/db[?query]) pointed at another database.
url_with_db() {
  local url="$1" db="$2" query=""
  if [[ "$url" == *\?* ]]; then query="?${url#*\?}"; url="${url%%\?*}"; fi
  [[ "$url" =~ ^postgres(ql)?://[^/]+/[^/]*$ ]] || die "cannot read the database URL's form"
  printf '%s/%s%s\n' "${url%/*}" "$db" "$query"
}

# A TCP port on 127.0.0.1 that nothing listens on, below Linux's ephemeral range.
free_port() {
  local port tries
  for tries in $(seq 1 50); do
    port=$((20000 + (RANDOM + tries) % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  return 1
}

# $1 random bytes as hex.
random_hex() {
  od -An -N "$1" -tx1 /dev/urandom | tr -d ' \n'
}
