# Two commands: `make demo` and `make test`. Everything they need is installed from here.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin

.PHONY: demo test test-fast lint typecheck unit tools install bench clean lock wheelhouse \
        dist image base-digest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps re-run the install when pyproject.toml or the lock changes. Runtime dependencies
# come from the hash-pinned requirements.lock, as in the image; the test extras on top.
$(VENV)/.installed-runtime: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-runtime

# Refresh requirements.lock from pyproject.toml (newest versions within its ranges).
lock: | $(BIN)/python
	$(BIN)/python -m pip install -q pip-tools
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

# The locked wheels for this platform, for the offline install test (tests/ops).
wheelhouse: .wheelhouse/.stamp
.wheelhouse/.stamp: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip download -q --no-deps --require-hashes --only-binary :all: \
	  -r requirements.lock -d .wheelhouse
	touch $@

# Wheel and sdist of this checkout into dist/ (version from git tags).
dist: $(VENV)/.installed-test
	rm -rf dist && $(BIN)/python -m build --no-isolation --outdir dist .

# The image, with the version and revision git knows (the build context has no .git).
image:
	docker build -t aicode-exporter:$$(git describe --tags --always --dirty) \
	  --build-arg VERSION=$$($(BIN)/python -m setuptools_scm) \
	  --build-arg REVISION=$$(git rev-parse --short=12 HEAD) \
	  --build-arg BRANCH=$$(git rev-parse --abbrev-ref HEAD) \
	  --build-arg BUILD_DATE=$$(date -u -d @$$(git log -1 --format=%ct) +%Y%m%d-%H:%M:%S) \
	  --build-arg SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) .

# The digest the base image's tag points at now (needs docker buildx and the registry).
base-digest:
	@tag=$$(sed -n 's/^FROM \(python:[^@]*\)@.*/\1/p' Dockerfile | head -1); \
	echo "$$tag@$$(docker buildx imagetools inspect $$tag --format '{{json .Manifest.Digest}}' | tr -d '"')"

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

# The suite without the tests marked slow (e2e/, ops/, real sockets against the clock,
# anything over ~1 s), on every core.
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not slow" -n auto

test: tools wheelhouse lint typecheck unit

bench: $(VENV)/.installed-test
	$(BIN)/python bench/scrape.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info dist .wheelhouse
