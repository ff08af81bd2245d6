# Two commands matter: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-production install install-test migrate check bench messages messages-compiled lint serve worker lock

# Installs come from the lock files only (every distribution pinned with its hashes, so a new machine
# gets exactly what CI tested); `make lock` re-resolves them from the loose requirements*.txt.
PIP_INSTALL := $(PIP) install -q --no-deps --require-hashes

$(VENV)/.runtime: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.lock
	touch $@

$(VENV)/.test: requirements-test.lock $(VENV)/.runtime
	$(PIP_INSTALL) -r requirements-test.lock
	touch $@

# axe-core for the accessibility test, exactly as locked (skipped, with a reason, where npm is missing).
tests/axe/node_modules/.installed: tests/axe/package-lock.json
	if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/axe --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the accessibility test will be skipped"; fi

install: $(VENV)/.runtime
install-test: $(VENV)/.test tests/axe/node_modules/.installed

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

LINTED := core config ledger stamps accounts evidence complaints privacy tests bench scripts

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

$(VENV)/.bench: requirements-bench.lock $(VENV)/.test
	$(PIP_INSTALL) -r requirements-bench.lock
	touch $@

# Re-resolve the three lock files (runtime ⊂ test ⊂ bench, one version of each package across them)
# from requirements*.txt with pip-tools, pinned itself in a separate tools venv.
PIP_TOOLS_VERSION := 7.7.0
COMPILE := .venv-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock:
	test -x .venv-tools/bin/pip-compile || ($(PYTHON) -m venv .venv-tools && \
		.venv-tools/bin/pip install -q pip-tools==$(PIP_TOOLS_VERSION))
	$(COMPILE) -o requirements.lock requirements.txt
	cp requirements.lock requirements-test.lock
	$(COMPILE) -o requirements-test.lock requirements-test.txt
	cp requirements-test.lock requirements-bench.lock
	$(COMPILE) -o requirements-bench.lock requirements-bench.txt

bench: $(VENV)/.bench
	$(PY) bench/run.py

# Rebuild the translation catalogues (needs GNU gettext) after changing user-visible strings.
messages: install
	$(PY) manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=tests --ignore=bench
	$(PY) scripts/compile_messages.py
