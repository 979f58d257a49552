# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
# `make run` installs the runtime only, from the hash-locked requirements.lock (what the
# Docker image runs); `make test` adds the development extras (test tools, linters).
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test lint typecheck unit bench install test-deps lock clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-run-*
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-dev-*
	touch $@

install: $(RUN_STAMP)

## Install the runtime and start the bot (SQLite by default; needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET).
run: $(RUN_STAMP)
	$(BIN)/imagerepo-bot serve

## Regenerate requirements.lock after changing the dependencies in pyproject.toml.
lock: $(DEV_STAMP)
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --build-deps-for=wheel --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.lock pyproject.toml

## The registry server the tests start: Debian's docker-registry (CNCF distribution).
test-deps:
	@command -v docker-registry >/dev/null 2>&1 || { \
	  echo "installing Debian's docker-registry for the tests"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends docker-registry; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

## Install what the tests need, lint, type-check, run every test.
test: $(DEV_STAMP) test-deps lint typecheck
	$(BIN)/pytest

## After changing a text: extract the English msgids (.pot) and merge them into the Korean
## catalog (then translate the new entries; `make test` fails until every one is done).
## The .po is compiled when the bot starts (handlers/ui/i18n.py), so no .mo is kept.
messages: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k counted:1,2 --no-location --sort-output \
	  --project imagerepo-bot --version 0.1.0 -o handlers/locale/imagerepo.pot .
	$(BIN)/pybabel update -i handlers/locale/imagerepo.pot -d handlers/locale -D imagerepo \
	  -l ko --no-fuzzy-matching --ignore-obsolete --width 100

bench: $(DEV_STAMP) test-deps
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
