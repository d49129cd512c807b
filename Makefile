# One entry point for people and CI. Every target installs what it needs from the project's own
# lock files (Pipfile.lock, package-lock.json) first, so a fresh machine needs only Python 3.11,
# Node.js/npm and make.

SHELL := /bin/bash
PYTHON ?= python3
PIPENV_VERSION := 2026.10.3
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_NOSPIN := 1
export PIPENV_YES := 1
export PIPENV_IGNORE_VIRTUALENVS := 1
# jsii and the cdk CLI run on the Node.js pinned in package.json (Node 20 is end-of-life); if its
# binary could not be installed, the machine's node is used (with jsii's end-of-life banner).
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)
export JSII_NODE = $(shell $(CURDIR)/node_modules/.bin/node --version >/dev/null 2>&1 \
  && echo $(CURDIR)/node_modules/.bin/node || command -v node)
ENV ?= dev
# Test processes (pytest-xdist): one per core by default, 0 for none. Each module runs on one
# worker, the unit and integration packages too (tests/conftest.py groups them), so module and
# package fixtures (synths, the local deployment, the demo's synth) are still built once.
TEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadgroup

.PHONY: help install demo synth check test lint format typecheck deploy destroy clean

help:
	@echo "make demo    - deploy into a local AWS emulator and cut over wave 1 (no AWS account)"
	@echo "make synth   - synthesize cdk.out/TapStack$(ENV).template.json (ENV=dev by default)"
	@echo "make test    - lint, type-check and run the whole test suite with coverage gates"
	@echo "make check   - the inner loop: lint, type-check and the tests not marked slow"
	@echo "make deploy  - deploy to the AWS account of your credentials (ENV=...)"
	@echo "make destroy - delete the deployed stack (ENV=...)"

install: .venv/.installed node_modules/.installed

.venv/.installed: Pipfile Pipfile.lock pyproject.toml
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "pipenv==$(PIPENV_VERSION)"
	$(PYTHON) -m pipenv sync --dev
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: install
	cdk synth --quiet -c environmentSuffix=$(ENV)
	@echo "wrote cdk.out/TapStack$(ENV).template.json"

demo: synth
	python -m migration.local.demo cdk.out/TapStack$(ENV).template.json $(DEMO_ARGS)

lint: install
	ruff check .
	ruff format --check .

format: install
	ruff check --fix .
	ruff format .

typecheck: install
	mypy src/migration lib tap.py

check: lint typecheck
	pytest $(PYTEST_PARALLEL) -m "not slow"

test: lint typecheck
	pytest $(PYTEST_PARALLEL) --cov=lib --cov-branch --cov-report=term-missing --cov-fail-under=100

deploy: install
	cdk deploy -c environmentSuffix=$(ENV) --require-approval broadening \
	  --outputs-file cfn-outputs/outputs-$(ENV).json
	python3 scripts/flatten_outputs.py cfn-outputs/outputs-$(ENV).json TapStack$(ENV) \
	  > cfn-outputs/flat-outputs.json

destroy: install
	cdk destroy -c environmentSuffix=$(ENV) --force

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
