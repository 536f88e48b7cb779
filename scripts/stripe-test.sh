#!/usr/bin/env bash
# `make stripe-test`: the Stripe e2e tests (tests/e2e/stripe.rs) against localstripe.
#
# Installs localstripe (pinned in scripts/requirements-stripe.txt) into the virtualenv
# .venv/stripe with the launcher scripts/localstripe-loopback.py as .venv/stripe/bin/
# localstripe-loopback (localstripe on 127.0.0.1 only, its store in memory), builds oms, and runs
# `cargo nextest run -p e2e -E 'test(/stripe/)'` (or cargo test without nextest) with
# LOCALSTRIPE_BIN pointing at the launcher: each test starts its own localstripe on a free
# loopback port. Never reaches the internet. The plain test suite runs the same tests without
# LOCALSTRIPE_BIN, where they print "skipped: LOCALSTRIPE_BIN unset".
#
# Settings (environment): STRIPE_TEST_PYTHON (a Python 3.9+ interpreter), DATABASE_URL (else
# scripts/db.sh finds or starts PostgreSQL), NEXTEST_ARGS (more nextest arguments).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly VENV="$ROOT/.venv/stripe"
readonly REQUIREMENTS="$ROOT/scripts/requirements-stripe.txt"
readonly LAUNCHER_SOURCE="$ROOT/scripts/localstripe-loopback.py"
readonly LAUNCHER="$VENV/bin/localstripe-loopback"

find_python() {
  local candidate
  for candidate in "${STRIPE_TEST_PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10 python3.9; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# Creates .venv/stripe with the pinned requirements (unless it holds exactly them) and writes the
# launcher with the virtualenv's interpreter.
ensure_venv() {
  local python stamp="$VENV/requirements-stripe.txt"
  if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQUIREMENTS" "$stamp"; then
    python="$(find_python)" || die "Python 3.9 or newer is needed (set STRIPE_TEST_PYTHON)"
    step "virtualenv .venv/stripe with scripts/requirements-stripe.txt ($("$python" --version))"
    [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$stamp"
  fi
  { printf '#!%s\n' "$VENV/bin/python"; cat "$LAUNCHER_SOURCE"; } >"$LAUNCHER.tmp"
  chmod +x "$LAUNCHER.tmp"
  mv "$LAUNCHER.tmp" "$LAUNCHER"
}

main() {
  cd "$ROOT"
  ensure_venv
  build_oms >/dev/null
  if [ -z "${DATABASE_URL:-}" ]; then use_database; fi
  export LOCALSTRIPE_BIN="$LAUNCHER"
  step "Stripe e2e tests against localstripe (LOCALSTRIPE_BIN=.venv/stripe/bin/localstripe-loopback)"
  if cargo nextest --version >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # NEXTEST_ARGS is a list of arguments
    cargo nextest run -p e2e -E 'test(/stripe/)' ${NEXTEST_ARGS:-}
  else
    cargo test -p e2e --test e2e stripe
  fi
}

main "$@"
