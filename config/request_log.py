"""One log line per request, in the same JSON stream as everything else: method, path (never the
query string, which may carry personal data), status, duration, user id and a request id that every
other line logged during the request carries too.

A password-reset link's path is a working credential until it is used (its user id and token), so
it is never written: the request line, and every other line through RedactSecrets, shows
`/accounts/password/reset/<redacted>/` instead."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

logger = logging.getLogger("request")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# /accounts/password/reset/<uidb64>/<token>/ and the /<uidb64>/set-password/ it turns into.
_RESET_LINK = re.compile(r"(/reset/)[^/\s?#\"'<>]+/[^/\s?#\"'<>]+/?")


def redact(text: str) -> str:
    """The text with every password-reset link's user id and token replaced."""
    return _RESET_LINK.sub(r"\1<redacted>/", text)


class RedactSecrets(logging.Filter):
    """Takes password-reset tokens out of every record a handler writes (Django's own lines on a
    failed request name the path too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        if (clean := redact(message)) != message:
            record.msg, record.args = clean, None
        path = getattr(record, "path", None)
        if isinstance(path, str):
            record.path = redact(path)
        return True


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every record logged while it is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        return True


class DowngradeToWarning(logging.Filter):
    """A request with a wrong Host header is noise, not an error: WARNING, without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = None
        record.exc_text = None
        return True


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            user = getattr(request, "user", None)
            path = redact(request.path)
            logger.info(
                "%s %s %s",
                request.method,
                path,
                status,
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": path,
                    "status_code": status,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                },
            )
            request_id_var.reset(token)
