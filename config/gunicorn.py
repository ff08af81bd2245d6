"""gunicorn's settings (`gunicorn -c config/gunicorn.py config.wsgi`): its own lines join the app's
JSON stream on stdout, in UTC; the per-request line comes from the app (config.request_log), which
knows the user and the request id, so gunicorn's access log is off."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Threaded workers: a phone sending a recording slowly holds one thread, not the whole process, so
# quick requests (/healthz, pages) are answered beside 50 slow uploads per process (bench/capacity.py;
# README › Operating › Capacity). Each busy thread may hold a database connection: PostgreSQL's
# max_connections must exceed WEB_CONCURRENCY × WEB_THREADS plus the workers'.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("WEB_THREADS", "64"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "600"))
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
json_logs = os.environ.get(
    "LOG_FORMAT", "json" if os.environ.get("DJANGO_DEBUG", "1") in ("0", "false") else "plain"
)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json" if json_logs == "json" else "plain",
        }
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}
