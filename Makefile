# One venv at .venv for everything: the demo, the tests, the tutorials.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LINTED := nbopt tests tutorials/build_notebooks.py

.PHONY: demo test lint format check clean tutorials

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Set up .venv and compare every post-training scheme on a CNN trained on digits.
demo: $(STAMP)
	$(BIN)/nbopt demo

## Lint, then the test suite (what CI runs).
# The suite includes tests/test_tutorials.py (every tutorial, executed in a fresh kernel) and
# tests/test_binder.py (a venv built from binder/requirements.txt runs the quick start).
test: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

## Rewrite tutorials/*.ipynb from tutorials/build_notebooks.py (outputs stripped).
tutorials: $(STAMP)
	$(BIN)/python tutorials/build_notebooks.py

check: test

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
