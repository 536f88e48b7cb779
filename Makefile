# Developer entry points (GNU make). `make` alone lists them.
#
#   make run    build, find or start PostgreSQL, migrate, seed the demo, serve on 127.0.0.1:8080
#   make test   formatting, clippy, then every test suite against PostgreSQL
#
# The database comes from scripts/db.sh: DATABASE_URL if set, else PostgreSQL on 127.0.0.1:5432,
# else a project-local cluster in .pgdata/ (port 54329) that `make db-down` stops.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

CARGO ?= cargo
# Cargo profile for `make run`, `make build`, `make migrate`: dev (fast to build) or release.
PROFILE ?= dev
# Extra arguments for cargo nextest, e.g. `make test NEXTEST_ARGS='-E test(oversell)'`.
NEXTEST_ARGS ?=
DB := scripts/db.sh

# Test suites that later work adds to `make test`: append the target's name on the line below
# (it must stay above the `test` rule), e.g. the quick-start shell test or a fuzzing smoke run.
EXTRA_SUITES := fuzz quickstart-test web-test db-bare-test stripe-test cluster-test

.PHONY: help run build test test-suite fmt fmt-check lint clippy check-scripts migrate \
	db-url db-status db-down clean-db bench fuzz mail cluster-test quickstart-test web web-deps web-test $(EXTRA_SUITES)

help: ## List the targets
	@echo "Usage: make <target>   (variables: PROFILE=dev|release, DATABASE_URL=...)"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  make %-15s %s\n", $$1, $$2}'

run: ## Build oms, start/find PostgreSQL, migrate, seed the demo, serve (Ctrl-C stops)
	@scripts/run.sh demo

build: ## Build the oms binary (PROFILE=release for an optimised one)
	$(CARGO) build --profile $(PROFILE) -p api --bin oms

test: fmt-check lint test-suite $(EXTRA_SUITES) ## Formatting, clippy, then every test suite
	@echo "make test: all checks passed"

# Doctests first, so that nextest's summary is the last word of the run.
test-suite: ## Run only the tests (cargo nextest if installed, else cargo test)
	@url="$$($(DB) url)"; export DATABASE_URL="$$url"; \
	echo "+ DATABASE_URL from scripts/db.sh"; \
	scripts/nats.sh ensure; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "+ $(CARGO) test --workspace --doc   (nextest does not run doctests)"; \
		$(CARGO) test --workspace --doc; \
		echo "+ $(CARGO) nextest run --workspace --no-tests=warn $(NEXTEST_ARGS)"; \
		$(CARGO) nextest run --workspace --no-tests=warn $(NEXTEST_ARGS); \
	else \
		echo "+ $(CARGO) test --workspace   (install cargo-nextest for faster runs)"; \
		$(CARGO) test --workspace; \
	fi

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check: ## Check formatting without changing files
	$(CARGO) fmt --all -- --check

lint: clippy check-scripts ## clippy (warnings are errors) and the shell scripts' syntax

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check-scripts:
	@for f in scripts/*.sh .ci/run; do bash -n "$$f"; done
	@if command -v shellcheck >/dev/null 2>&1; then shellcheck scripts/*.sh .ci/run; fi

migrate: ## Apply the database migrations (oms migrate)
	@scripts/run.sh migrate

db-url: ## Print the DATABASE_URL scripts/db.sh selects (starting a local cluster if needed)
	@$(DB) url

db-status: ## Say which PostgreSQL would be used, starting nothing
	@$(DB) status

db-down: ## Stop the project-local PostgreSQL cluster if one runs
	@$(DB) down

clean-db: ## Stop the project-local cluster and delete its data (.pgdata/)
	@$(DB) clean

bench: ## Benchmarks: the server against pgbench on the same work (scripts/bench.sh, < 10 min)
	@scripts/bench.sh

mail: ## A local mail catcher on smtp://127.0.0.1:1025 that prints every email (development)
	@scripts/mail.sh

fuzz: ## Fuzz the API against its OpenAPI document (schemathesis, at most 5 min)
	@scripts/fuzz.sh

cluster-test: ## Three instances under load with instances and NATS nodes killed, over each bus (scripts/cluster-test.sh, ~2 min)
	@scripts/cluster-test.sh

quickstart-test: ## The README quick start from a fresh clone: make run, /readyz, demo login
	@scripts/quickstart-test.sh

stripe-test: ## The Stripe e2e tests against localstripe on 127.0.0.1 (installs it into .venv/stripe)
	@scripts/stripe-test.sh

db-bare-test: ## scripts/db.sh on a bare machine: installs PostgreSQL (a stand-in; no network), starts a cluster
	@scripts/db-bare-test.sh

# --- web app (web/: Next.js; Node.js 20.9+ and npm) ------------------------------------------------
# OMS_API_URL: where the web app's /api rewrites point (fixed when the app is built or started).
OMS_API_URL ?= http://127.0.0.1:8080

# web/next-env.d.ts belongs to Next.js (`next dev` and `next build` rewrite it, for their own build
# folder), so it is not tracked; `tsc --noEmit` needs it before any build, so web-deps writes it when
# it is missing, as `next build` would.
web-deps: # web/node_modules from web/package-lock.json (npm ci), when missing or out of date; web/next-env.d.ts
	@if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
		echo "+ npm ci (web/)"; cd web && npm ci --no-audit --no-fund --loglevel=error; fi
	@if [ ! -f web/next-env.d.ts ]; then \
		printf '%s\n' '/// <reference types="next" />' '/// <reference types="next/image-types/global" />' \
			'import "./.next/types/routes.d.ts";' 'import "./.next/types/root-params.d.ts";' '' \
			'// NOTE: This file should not be edited' \
			'// see https://nextjs.org/docs/app/api-reference/config/typescript for more information.' \
			>web/next-env.d.ts; fi

web: web-deps ## The web app in development on http://127.0.0.1:3000 (/api proxied to OMS_API_URL; run `make run` too)
	cd web && NEXT_TELEMETRY_DISABLED=1 OMS_API_URL="$(OMS_API_URL)" npx next dev --hostname 127.0.0.1 --port 3000

web-test: web-deps ## The web app: tsc, ESLint, Vitest, then end to end in Chromium (scripts/web-e2e.sh)
	cd web && npx tsc --noEmit
	cd web && npx eslint --max-warnings=0 .
	cd web && npx vitest run
	scripts/web-e2e.sh
