# custintel: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.app-installed
DEV_STAMP := $(VENV)/.dev-installed
CUSTOMERS ?= 10000

.PHONY: demo test test-fast check format lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(APP_STAMP): $(BIN)/python requirements/app.lock pyproject.toml
	$(BIN)/pip install -q -r requirements/app.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(DEV_STAMP): $(BIN)/python requirements/dev.lock pyproject.toml
	$(BIN)/pip install -q -r requirements/dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@ $(APP_STAMP)

## demo: install, then build the demo shop on the embedded default and show it
demo: $(APP_STAMP)
	$(BIN)/custintel demo --customers $(CUSTOMERS)

## check: lint, format check and type check
check: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

## test: the whole suite (CI runs this with CUSTINTEL_REQUIRE_SERVICES=1)
test: check
	$(BIN)/pytest

## test-fast: skip the tests marked slow
test-fast: $(DEV_STAMP)
	$(BIN)/pytest -m "not slow"

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## lock: re-resolve the pinned requirements from pyproject.toml (needs uv)
lock:
	uv pip compile pyproject.toml --python-version 3.11 -o requirements/app.lock -q
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/dev.lock -q

## bench: the benchmarks (slow; they write docs/performance.md)
bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) custintel-data .pytest_cache .mypy_cache .ruff_cache
