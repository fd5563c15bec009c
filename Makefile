# Readiness — `make run` to serve, `make test` to run every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PORT ?= 5000
WORKERS ?= 2

.PHONY: run test test-sqlite test-postgres install install-test translations lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed translations

install-test: $(VENV)/.installed-test translations

# Compiled catalogs are build output (not committed).
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d readiness/translations

run: install
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	@echo "Readiness: http://127.0.0.1:$(PORT)"
	$(VENV)/bin/gunicorn --workers $(WORKERS) --bind 127.0.0.1:$(PORT) \
		--access-logfile - wsgi:app

test: install-test
	scripts/ensure-test-deps
	$(PY) -m pytest -q
	READINESS_TEST_DB=postgresql $(PY) -m pytest -q -m "not browser"

test-sqlite: install-test
	$(PY) -m pytest -q

test-postgres: install-test
	READINESS_TEST_DB=postgresql $(PY) -m pytest -q -m "not browser"

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Extract messages and merge them into the English catalog (then translate the new ones).
messages: install-test
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o readiness/translations/messages.pot .
	$(VENV)/bin/pybabel update -i readiness/translations/messages.pot -d readiness/translations --no-fuzzy-matching

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
