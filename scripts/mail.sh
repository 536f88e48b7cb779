#!/usr/bin/env bash
# `make mail`: a local mail catcher for development. Installs aiosmtpd (pinned in
# scripts/requirements-mail.txt) into the virtualenv .venv/mail, then runs an SMTP server on
# 127.0.0.1:${MAIL_PORT:-1025} that accepts every email and prints it (headers, text and HTML parts)
# to the terminal. Point the server at it in another terminal:
#
#   SMTP_URL=smtp://127.0.0.1:1025 MAIL_FROM='Shop <orders@shop.test>' make run
#
# Settings (environment): MAIL_PORT (default 1025), MAIL_PYTHON (a Python 3.8+ interpreter).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
readonly VENV="$ROOT/.venv/mail"
readonly REQUIREMENTS="$ROOT/scripts/requirements-mail.txt"
readonly PORT="${MAIL_PORT:-1025}"

ensure_venv() {
  ensure_pinned_venv "$VENV" "$REQUIREMENTS" 8 MAIL_PYTHON
}

main() {
  ensure_venv
  if port_in_use "$PORT"; then
    die "127.0.0.1:$PORT is taken (set MAIL_PORT)"
  fi
  step "mail catcher on smtp://127.0.0.1:$PORT (Ctrl-C stops); emails are printed below"
  exec "$VENV/bin/aiosmtpd" -n -l "127.0.0.1:$PORT"
}

main "$@"
