# Two entry points on a fresh machine: `make demo` and `make test`.
# Each creates (or refreshes) the local virtual environment from pyproject.toml first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/microct demo --overwrite

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto

# Headless Chromium for tests/test_browser.py (installed when absent; skipped if impossible).
browser:
	bash .ci/install-browser

# The documentation site, warnings as errors; output in docs/_build/html.
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	for script in benchmarks/[!_]*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) microct-demo .pytest_cache .hypothesis docs/_build docs/_generated docs/generated docs/gallery docs/sg_execution_times.rst
