# Two commands: `make demo` and `make test`. Everything they need is installed from here.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin

.PHONY: demo test test-fast lint typecheck unit tools install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps re-run the install when pyproject.toml changes.
$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime

demo: $(VENV)/.installed-runtime
	$(BIN)/aicode-exporter demo $(ARGS)

tools:
	@scripts/ensure-tools.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check aicode_exporter aicode_sim tests bench grafana prometheus scripts

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/pytest

# The suite without the tests marked slow (e2e/, ops/, anything over ~1 s).
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not slow"

test: tools lint typecheck unit

bench: $(VENV)/.installed-test
	$(BIN)/python bench/scrape.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
