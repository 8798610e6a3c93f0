# One venv at .venv for everything: the demo, the tests, the tutorials.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint format check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Set up .venv and compare every post-training scheme on a CNN trained on digits.
demo: $(STAMP)
	$(BIN)/nbopt demo

## Lint, then the test suite (what CI runs).
test: $(STAMP)
	$(BIN)/ruff check nbopt tests
	$(BIN)/ruff format --check nbopt tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check nbopt tests

format: $(STAMP)
	$(BIN)/ruff format nbopt tests
	$(BIN)/ruff check --fix nbopt tests

check: test

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
