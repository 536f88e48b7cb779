#!/usr/bin/env bash
# Find a NATS server with JetStream for the tests, installing Debian's `nats-server` when there is
# none and nothing answers.
#
#   scripts/nats.sh ensure   exit 0 when the tests can have a NATS: one answers on 127.0.0.1:4222
#                            (NATS_TEST_URL's host:port when set), or `nats-server` is installed
#                            (the tests then start a private one, see crates/adapters-nats/src/
#                            testing.rs); as root with apt-get, installs it; else says what to do
#                            and exits 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

ensure() {
  local hostport="127.0.0.1:4222"
  if [ -n "${NATS_TEST_URL:-}" ]; then
    hostport="${NATS_TEST_URL#*://}"
    hostport="${hostport%%,*}"
  fi
  if (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null; then
    return 0
  fi
  if command -v nats-server >/dev/null 2>&1; then
    say "no NATS on $hostport: the tests start their own nats-server"
    return 0
  fi
  if is_root && command -v apt-get >/dev/null 2>&1; then
    say "no NATS on $hostport and no nats-server: installing Debian's nats-server"
    apt_install nats-server || die "installing nats-server failed"
    return 0
  fi
  die "no NATS on $hostport and no nats-server: install it (Debian: apt-get install nats-server), or set NATS_TEST_URL"
}

case "${1:-ensure}" in
  ensure) ensure ;;
  *) die "usage: scripts/nats.sh ensure" ;;
esac
