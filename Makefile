# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test lint typecheck unit bench install test-deps clean messages

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

## After changing a text: extract the English msgids (.pot) and merge them into the Korean
## catalog (then translate the new entries; `make test` fails until every one is done).
## The .po is compiled when the bot starts (handlers/ui/i18n.py), so no .mo is kept.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k counted:1,2 --no-location --sort-output \
	  --project imagerepo-bot --version 0.1.0 -o handlers/locale/imagerepo.pot .
	$(BIN)/pybabel update -i handlers/locale/imagerepo.pot -d handlers/locale -D imagerepo \
	  -l ko --no-fuzzy-matching --ignore-obsolete --width 100

bench: $(STAMP) test-deps
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
