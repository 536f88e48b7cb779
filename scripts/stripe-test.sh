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
main() {
  cd "$ROOT"
  # .venv/stripe with the pinned requirements and its launcher (scripts/lib.sh).
  ensure_localstripe
  build_oms >/dev/null
  if [ -z "${DATABASE_URL:-}" ]; then use_database; fi
  export LOCALSTRIPE_BIN="$LOCALSTRIPE_LAUNCHER"
  step "Stripe e2e tests against localstripe (LOCALSTRIPE_BIN=.venv/stripe/bin/localstripe-loopback)"
  if cargo nextest --version >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # NEXTEST_ARGS is a list of arguments
    cargo nextest run -p e2e -E 'test(/stripe/)' ${NEXTEST_ARGS:-}
  else
    cargo test -p e2e --test e2e stripe
  fi
}

main "$@"
