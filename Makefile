# One venv at .venv for everything: the demo, the tests, the tutorials, the JupyterLab extension.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LABEXT := labextension
NODE_STAMP := $(LABEXT)/node_modules/.installed-stamp
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/nbopt
# jlpm (JupyterLab's yarn) and `jupyter builder` come from .venv.
WITH_VENV := PATH="$(abspath $(BIN)):$$PATH" NBOPT_VENV="$(abspath $(VENV))"
LINTED := nbopt tests tools tutorials/build_notebooks.py $(LABEXT)/ui-tests

.PHONY: demo test lint format check clean labextension tutorials fuzz readme

# The editable install builds the JupyterLab extension (hatch-jupyter-builder runs jlpm);
# `labextension develop` then links .venv's copy to nbopt/labextension, so rebuilds show.
# The link goes before a reinstall, or pip would write (and delete) through it.
$(STAMP): pyproject.toml $(LABEXT)/package.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if [ -L $(LABEXT_LINK) ]; then rm $(LABEXT_LINK); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(WITH_VENV) $(BIN)/jupyter labextension develop . --overwrite
	touch $(STAMP)

$(NODE_STAMP): $(STAMP) $(LABEXT)/package.json $(LABEXT)/yarn.lock
	cd $(LABEXT) && $(WITH_VENV) jlpm install
	touch $(NODE_STAMP)

## Set up .venv and compare every post-training scheme on a CNN trained on digits.
demo: $(STAMP)
	$(BIN)/nbopt demo

## Build the JupyterLab extension from labextension/src into nbopt/labextension.
labextension: $(NODE_STAMP)
	cd $(LABEXT) && $(WITH_VENV) jlpm build

## Lint, the extension's jest and end-to-end tests, then the Python tests (what CI runs).
# The Python suite includes tests/test_tutorials.py (every tutorial, executed in a fresh
# kernel) and tests/test_binder.py (a venv built from binder/requirements.txt runs the quick
# start); it runs last so that its summary closes the output.
test: $(STAMP) labextension
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	cd $(LABEXT) && $(WITH_VENV) jlpm prettier:check
	cd $(LABEXT) && $(WITH_VENV) jlpm test
	cd $(LABEXT) && $(WITH_VENV) jlpm test:e2e
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)

format: $(NODE_STAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)
	cd $(LABEXT) && $(WITH_VENV) jlpm prettier

## Rewrite tutorials/*.ipynb from tutorials/build_notebooks.py (outputs stripped).
tutorials: $(STAMP)
	$(BIN)/python tutorials/build_notebooks.py

check: test

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache nbopt/labextension \
		$(LABEXT)/lib $(LABEXT)/node_modules $(LABEXT)/tsconfig.tsbuildinfo

## Thousands of damaged .tflite files through nbopt.load and inspect (NBOPT_FUZZ_CASES each).
fuzz: $(STAMP)
	NBOPT_FUZZ_CASES=$${NBOPT_FUZZ_CASES:-2000} $(BIN)/python -m pytest -q -s tests/test_fuzz.py

## Rewrite the README's quick-start table from a real run of `nbopt demo`.
readme: $(STAMP)
	$(BIN)/python tools/readme_demo.py
