# Nova's front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export LITELLM_LOCAL_MODEL_COST_MAP := True
# uv may come from PATH, from `pip install --user`, or as a module of the machine's python3.
UV := $(shell command -v uv 2>/dev/null || { test -x $(HOME)/.local/bin/uv && echo $(HOME)/.local/bin/uv; } || echo "python3 -m uv")
PYTEST_ARGS ?=
PY_PACKAGES := nova-contracts/nova_contracts nova-common/nova_common orchestrator/orchestrator \
  llm-gateway/llm_gateway memory-service/memory_service chat-api/chat_api chat-bridge/chat_bridge cortex/cortex \
  intel-worker/intel_worker knowledge-worker/knowledge_worker voice-service/voice_service recovery/recovery
COMPOSE := docker compose

OPENAPI_DIRS := openapi dashboard/src/api/generated

.PHONY: openapi openapi-check help install install-uv install-browser install-node install-sandbox python-deps dashboard-deps dashboard run stop status test checks \
        test-python test-dashboard lint format bench up down logs ps clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

install: install-uv install-node install-sandbox python-deps dashboard ## install everything `make run` and `make test` need

install-uv:
	@$(UV) --version >/dev/null 2>&1 || { echo "==> installing uv (the Python package manager) with pip: a few seconds"; \
	  python3 -m pip install --quiet --disable-pip-version-check uv; }

install-browser:
	@command -v chromium >/dev/null 2>&1 || { echo "==> installing Chromium from Debian for the browser tests: about 1 minute, once"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# The shell and git tools run their commands in a bubblewrap jail and refuse to run without one.
install-sandbox:
	@command -v bwrap >/dev/null 2>&1 || { echo "==> installing bubblewrap from Debian (the jail of the shell and git tools): a few seconds, once"; \
	  { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } || \
	  echo "==> could not install bubblewrap; run 'apt-get install bubblewrap' as root, until then the shell and git tools refuse to run"; }

install-node:
	@command -v npm >/dev/null 2>&1 || { echo "==> installing Node.js from Debian: about 1 minute, once"; apt-get update -qq && apt-get install -y -qq nodejs npm; }

# The first sync builds llama.cpp from source for the local model (about 5-7 minutes on 2 cores, once: uv
# caches the wheel); uv's own progress lines show it is working. Later syncs are quiet and take a second.
# A new checkout first tries uv's cache alone (--offline): revalidating the llama-cpp-python sdist against a
# registry that sends no validators counts as a new revision and would rebuild llama.cpp every time.
python-deps: install-uv
	@if test -f .venv/.nova-synced && test .venv/.nova-synced -nt uv.lock; then $(UV) sync --frozen --quiet; else \
	  echo "==> installing the Python workspace with uv: 6-11 minutes the first time (building llama.cpp for the local model), seconds afterwards"; \
	  { $(UV) sync --frozen --offline --quiet 2>/dev/null || $(UV) sync --frozen; } && touch .venv/.nova-synced && echo "==> Python workspace ready"; fi

dashboard-deps: install-node
	@cd dashboard && { test node_modules/.package-lock.json -nt package-lock.json || { \
	  echo "==> installing the dashboard's npm packages: about 1 minute the first time"; \
	  npm ci --no-audit --no-fund --loglevel=error --progress=true && echo "==> npm packages ready"; }; }

dashboard: dashboard-deps ## build the dashboard (served on :3000 by `make run`)
	@cd dashboard && { test -f dist/index.html && test -z "$$(find src index.html vite.config.ts package.json -newer dist/index.html -print -quit)" || { \
	  echo "==> building the dashboard with Vite: about 30 seconds"; npm run --silent build; }; }

run: install ## start the whole stack locally on embedded PostgreSQL and Redis (Ctrl-C stops it)
	@$(UV) run --frozen python -m nova_common.launcher run

stop: install-uv ## stop a `make run` started in another terminal
	@$(UV) run --frozen python -m nova_common.launcher stop

status: install-uv ## print every service's health
	@$(UV) run --frozen python -m nova_common.launcher status

# The quick checks (generated files, lint, the dashboard's own tests) run beside pytest: two jobs for two cores.
# Their output is not held back (make -O would hold pytest's until it ends), so the first lines interleave.
test: install install-sandbox install-browser ## install what is needed, lint, and run every test
	@$(MAKE) --no-print-directory -j2 checks test-python

checks: openapi-check lint test-dashboard ## generated files up to date, lint, the dashboard's typecheck and tests

test-python:
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

test-dashboard:
	@cd dashboard && npm run --silent typecheck && npm test --silent

openapi: python-deps dashboard-deps ## regenerate openapi/*.json, the dashboard's TypeScript types and docs/api.md
	@$(UV) run --frozen python scripts/dump_openapi.py
	@cd dashboard && npm run --silent gen:types
	@$(UV) run --frozen python scripts/api_docs.py

openapi-check: python-deps dashboard-deps ## fail when openapi/ or the dashboard's generated types are stale
	@$(UV) run --frozen python scripts/dump_openapi.py --check
	@cd dashboard && npm run --silent gen:types -- --check

lint: python-deps ## ruff (lint + format check) and mypy
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy $(PY_PACKAGES)

format: python-deps ## apply ruff's fixes and formatting
	@$(UV) run --frozen ruff check --fix .
	@$(UV) run --frozen ruff format .

bench: install ## run the benchmarks in bench/ (each prints its numbers)
	@for script in bench/*.py; do echo "== $$script"; $(UV) run --frozen python $$script || exit 1; done

up: install-uv ## docker compose up (generates secrets into .env first)
	@$(UV) run --frozen python -m nova_common.envfile .env
	@$(COMPOSE) up -d --build

down: ## docker compose down (all profiles)
	@$(COMPOSE) --profile bridges --profile knowledge --profile voice down --remove-orphans

logs: ## follow docker compose logs
	@$(COMPOSE) logs -f --tail=100

ps: ## docker compose ps
	@$(COMPOSE) ps

clean: ## remove build output (keeps ./data)
	rm -rf dashboard/dist .pytest_cache .ruff_cache .mypy_cache
