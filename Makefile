# Apsara: `make run` starts the app on the embedded defaults, `make test` runs the suite.
#
# Installs are reproducible: every package comes at the exact version recorded in uv.lock
# (`uv sync --locked` refuses to run when pyproject.toml and the lock disagree). uv itself is
# pinned and installed with pip into .tools/, so a fresh machine needs only Python 3.11+.
# `make upgrade` refreshes the lock to the newest allowed versions and runs the suite.
SHELL := /bin/bash
PY ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PYTEST_ARGS ?=
# pytest-xdist workers: each has its own embedded server; the suite used ~0.9 of 2 cores
# serially (12:05 on 2 cores), 7:01 with 2 workers. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2

export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PY)
# Installed packages get their bytecode at install time, and Apsara's own modules too: where
# PYTHONDONTWRITEBYTECODE is set (as on the development machines) nothing is cached otherwise,
# and every command compiled pymongo, pydantic and the rest from source each time (measured:
# `apsara user list` 0.78 -> 0.34 s, `apsara --help` 0.34 -> 0.15 s, `ai send` 1.9 -> 0.9 s).
export UV_COMPILE_BYTECODE := 1
COMPILE_OWN = $(BIN)/python -m compileall -q apsara_core apsara_tui tests >/dev/null

.PHONY: run test lint lock bench install upgrade clean

$(UV):
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Apsara needs Python 3.11 or newer")'
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

# The app alone; --inexact keeps the test extras when they are already there.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --quiet
	@$(COMPILE_OWN)
	@touch $@

# Tests and linters share one environment (the test and lint extras).
$(VENV)/.installed-test: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra test --extra lint --quiet
	@$(COMPILE_OWN)
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/apsara

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# requirements.lock: uv.lock exported with hashes, for pip users (`pip install --require-hashes
# -r requirements.lock`); lint fails when the two disagree (`make lock` rewrites it).
LOCK_EXPORT = $(UV) export --frozen --all-extras --no-emit-project --quiet

lock: | $(UV)
	$(UV) lock
	$(LOCK_EXPORT) -o requirements.lock

# ruff (lint and format check) over everything, mypy over the core.
lint: $(VENV)/.installed-test
	$(LOCK_EXPORT) | grep -v '^#' | diff -q - <(grep -v '^#' requirements.lock) >/dev/null || { echo "requirements.lock is out of date: run make lock"; exit 1; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python -m tests.benchmarks

upgrade: | $(UV)
	$(UV) lock --upgrade
	$(LOCK_EXPORT) -o requirements.lock
	rm -f $(VENV)/.installed $(VENV)/.installed-test
	$(MAKE) test

clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info
