#!/usr/bin/env bash
# `make run`: the development server and, beside it, the background worker that builds dossiers
# (manage.py worker: django-tasks-db's db_worker with a heartbeat). Stopping the server (Ctrl-C) stops the worker too.
set -euo pipefail
PY=${PY:-.venv/bin/python}
"$PY" manage.py worker --no-reload &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT INT TERM
"$PY" manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}"
