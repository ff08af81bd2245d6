# Two commands matter: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-production install install-test migrate check bench messages messages-compiled lint serve worker

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.test: requirements.txt requirements-test.txt $(VENV)/.runtime
	$(PIP) install -q -r requirements-test.txt
	touch $@

install: $(VENV)/.runtime
install-test: $(VENV)/.test

messages-compiled: install
	$(PY) scripts/compile_messages.py

migrate: messages-compiled
	$(PY) manage.py migrate --noinput

run: migrate
	PY=$(PY) HOST=$(HOST) PORT=$(PORT) bash scripts/run-dev.sh

# Production serving: gunicorn with WhiteNoise for static files (see Procfile for web + worker).
serve: messages-compiled
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi

# The background worker (builds dossiers, sweeps stalled builds, housekeeping). It does not migrate:
# run `make migrate` (or the Procfile's release step) once per deployment, before web and workers start.
worker: messages-compiled
	$(PY) manage.py worker

LINTED := config ledger stamps accounts evidence complaints privacy tests bench scripts

test: install-test messages-compiled lint
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade, flake8-django, imports at the top), the
# formatter's check, and import-linter's layers contract (pyproject.toml).
lint: install-test
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/lint-imports

# The same suite against PostgreSQL, S3 (moto's server, Object Lock) and the database task backend.
test-production: install-test messages-compiled
	bash scripts/test-production.sh $(PYTEST_ARGS)

check: install-test
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

$(VENV)/.bench: requirements-bench.txt $(VENV)/.test
	$(PIP) install -q -r requirements-bench.txt
	touch $@

bench: $(VENV)/.bench
	$(PY) bench/run.py

# Rebuild the translation catalogues (needs GNU gettext) after changing user-visible strings.
messages: install
	$(PY) manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=tests --ignore=bench
	$(PY) scripts/compile_messages.py
