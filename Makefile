# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test lint typecheck unit bench install test-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## Install and start the bot (SQLite by default; needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET).
run: $(STAMP)
	$(BIN)/imagerepo-bot serve

## The registry server the tests start: Debian's docker-registry (CNCF distribution).
test-deps:
	@command -v docker-registry >/dev/null 2>&1 || { \
	  echo "installing Debian's docker-registry for the tests"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends docker-registry; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Install what the tests need, lint, type-check, run every test.
test: $(STAMP) test-deps lint typecheck
	$(BIN)/pytest

bench: $(STAMP) test-deps
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
