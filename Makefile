# Podium — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml | sha256sum | cut -c1-12)

.DEFAULT_GOAL := help
.PHONY: help install test-deps run demo test lint format check docs lock bench bench-quick clean package validate-deploy

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create .venv and install the pinned environment

# The deploy validation tools (sam, cfn-lint, samtranslator; checkov) pin versions that
# conflict with litellm and with each other: two venvs of their own, installed side by side.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed-$(shell cat infra/requirements-tools-sam.txt infra/requirements-tools-checkov.txt | sha256sum | cut -c1-12)

$(TOOLS_STAMP):
	@rm -rf $(TOOLS) && mkdir -p $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)/sam && $(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/sam/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-tools-sam.txt & sam=$$!; \
	$(TOOLS)/checkov/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-tools-checkov.txt & checkov=$$!; \
	wait $$sam && wait $$checkov
	@touch $@

NODE_STAMP := tests/node/node_modules/.installed-$(shell sha256sum tests/node/package-lock.json | cut -c1-12)

$(NODE_STAMP):
	cd tests/node && npm ci --silent --no-audit --no-fund
	@touch $@

test-deps: install $(NODE_STAMP)  ## what the tests need beyond Python: Debian's chromium, the npm test clients
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

run: install  ## run Podium locally on its embedded defaults (demo model, no key needed)
	$(VENV)/bin/podium validate agents/
	$(VENV)/bin/podium build --check
	$(VENV)/bin/podium dev

demo: install  ## one run of the weather agent in the terminal, on the demo model
	$(VENV)/bin/podium run weather "What's the weather and time in Paris?"

test: test-deps lint $(TOOLS_STAMP)  ## lint, type-check and run the whole test suite (deploy validation included)
	$(PY) -m pytest -q -n 2 --dist loadfile

package: install  ## build the Lambda artifacts (build/lambda), size-check and smoke-test them
	$(PY) infra/package.py all

validate-deploy: install $(TOOLS_STAMP)  ## sam validate, cfn-lint, ASL lint and checkov, offline
	$(PY) infra/validate.py

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

BENCH_PYTHON ?= python3.11
BENCH_VENV := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml bench/requirements.txt bench/requirements-strands.txt | sha256sum | cut -c1-12)

$(BENCH_STAMP):
	rm -rf $(BENCH_VENV) && mkdir -p $(BENCH_VENV)
	$(BENCH_PYTHON) -m venv $(BENCH_VENV)/main
	$(BENCH_VENV)/main/bin/python -m pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e ".[models,api,aws]" -r bench/requirements.txt
	$(BENCH_PYTHON) -m venv $(BENCH_VENV)/strands
	$(BENCH_VENV)/strands/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-strands.txt
	@touch $@

bench: $(BENCH_STAMP)  ## Podium side by side with the peers: every figure, writes bench/RESULTS.md (~15 min)
	$(BENCH_VENV)/main/bin/python bench/suite.py

bench-quick: $(BENCH_STAMP)  ## a smaller pass of every figure (~3 min)
	$(BENCH_VENV)/main/bin/python bench/suite.py --quick

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
