# Podium — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml | sha256sum | cut -c1-12)

.DEFAULT_GOAL := help
.PHONY: help install run test lint format check docs lock bench bench-quick clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create .venv and install the pinned environment

run: install  ## run Podium locally on its embedded defaults (demo model, no key needed)
	$(VENV)/bin/podium validate agents/
	$(VENV)/bin/podium build --check
	$(VENV)/bin/podium run weather "What's the weather and time in Paris?"

test: install lint  ## lint, type-check and run the whole test suite
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: install  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: test  ## everything CI runs

docs: install  ## regenerate the generated files: agent JSON Schema, docs reference, state machine
	$(VENV)/bin/podium schema --write schemas/agent.schema.json
	$(VENV)/bin/podium build
	$(PY) -m podium.protocol.schema docs/agents.md

lock: install  ## re-pin requirements/lock.txt from requirements/dev.in
	$(PY) -m pip install --quiet -r requirements/dev.in
	{ head -2 requirements/lock.txt; $(PY) -m pip freeze --exclude-editable | grep -v '^-e' | sort -f; } > requirements/lock.new
	mv requirements/lock.new requirements/lock.txt

bench: install  ## run the benchmarks (prints ratios measured side by side)
	$(PY) bench/import_time.py

bench-quick: install  ## a short pass of the benchmarks
	$(PY) bench/import_time.py --rounds 5

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
