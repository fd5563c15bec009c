# Readiness — `make run` to serve, `make test` to run every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PORT ?= 5000
WORKERS ?= 2
# Seconds a worker may spend on one request before gunicorn restarts it (its default is 30).
# The biggest downloads at city scale take a few seconds; this leaves room on a slow machine.
TIMEOUT ?= 120
# Exact versions with hashes (see "Dependencies" in the README); `make lock` refreshes them.
LOCK_RUN := requirements/run.lock
LOCK_TEST := requirements/test.lock
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --quiet

# Python keeps compiled modules (and pytest its rewritten tests) in __pycache__/, ignored by
# git. Some machines set PYTHONDONTWRITEBYTECODE, and then every test process and every
# `flask` it starts compiles everything again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast test-sqlite test-postgres install install-test translations lint bench clean lock

# Only what the lock files name, each file checked against its hash. pip installs uv (pinned,
# hashed, in requirements/uv.lock), uv installs the rest: about 10 s instead of pip's 40.
# The project itself is installed without fetching anything (its build backend, setuptools,
# is in the lock too).
UV := $(VENV)/bin/uv
LOCK_UV := requirements/uv.lock
UV_INSTALL := $(UV) pip install --quiet --compile-bytecode --python $(PY)

$(VENV)/.installed: $(LOCK_RUN) $(LOCK_UV) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_UV)
	$(UV_INSTALL) --require-hashes -r $(LOCK_RUN)
	$(UV_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed $(LOCK_TEST)
	$(UV_INSTALL) --require-hashes -r $(LOCK_TEST)
	touch $@

install: $(VENV)/.installed translations

install-test: $(VENV)/.installed-test translations

# Compiled catalogs are build output (not committed).
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d readiness/translations

# HOST=0.0.0.0 serves the local network (phones); CERT and KEY (PEM files) serve HTTPS, which
# phones need for the scan page's camera (see "The phone in the field" in the README).
HOST ?= 127.0.0.1
SCHEME := $(if $(CERT),https,http)
TLS := $(if $(CERT),--certfile $(CERT) --keyfile $(KEY),)

run: install
	$(FLASK) db upgrade
	$(FLASK) demo load --first-start
	@echo "Readiness: $(SCHEME)://$(HOST):$(PORT)"
	$(VENV)/bin/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) $(TLS) \
		--timeout $(TIMEOUT) --access-logfile - wsgi:app

# Test workers (pytest-xdist), one per core by default; each has its own databases and, on
# PostgreSQL, its own server. JOBS=1 runs in one process.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTEST := $(PY) -m pytest -q -n $(JOBS) --dist worksteal

# Both databases at once: the PostgreSQL run spends much of its time waiting on its server and
# the SQLite run fills those gaps (measured: 3:35 for both together, ~4:10 one after the other).
# The PostgreSQL output is kept in a temporary file and printed after the SQLite run's.
test: install-test
	scripts/ensure-test-deps
	@pg_log=$$(mktemp); \
	READINESS_TEST_DB=postgresql $(PYTEST) -m "not browser" > $$pg_log 2>&1 & pg=$$!; \
	echo "== SQLite (with the browser journeys); PostgreSQL runs alongside"; \
	$(PYTEST); sqlite=$$?; \
	wait $$pg; postgres=$$?; \
	echo "== PostgreSQL"; cat $$pg_log; rm -f $$pg_log; \
	test $$sqlite -eq 0 && test $$postgres -eq 0

# The quick check while working: SQLite, no browser, no slow tests. make test runs them all.
test-fast: install-test
	$(PYTEST) -m "not slow and not browser"

test-sqlite: install-test
	$(PYTEST)

test-postgres: install-test
	READINESS_TEST_DB=postgresql $(PYTEST) -m "not browser"

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Extract messages and merge them into the English catalog (then translate the new ones).
messages: install-test
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o readiness/translations/messages.pot .
	$(VENV)/bin/pybabel update -i readiness/translations/messages.pot -d readiness/translations --no-fuzzy-matching

# Re-resolve every dependency to the newest release pyproject.toml allows, rewrite both lock
# files (the run lock takes the test lock's versions), then run the whole suite on them.
lock: $(VENV)/.installed-test
	$(VENV)/bin/uv pip compile pyproject.toml --extra test requirements/install.in \
		requirements/lock-tool.in $(LOCK_FLAGS) --upgrade -o $(LOCK_TEST)
	$(VENV)/bin/uv pip compile pyproject.toml requirements/install.in $(LOCK_FLAGS) \
		-c $(LOCK_TEST) -o $(LOCK_RUN)
	$(VENV)/bin/uv pip compile requirements/lock-tool.in $(LOCK_FLAGS) -c $(LOCK_TEST) -o $(LOCK_UV)
	$(MAKE) test

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
