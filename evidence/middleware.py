"""Pages (not the API, whose exception handler answers in its error shape) that reach an object
store which does not answer: after the bounded S3 timeouts (config/settings.py) the person sees a 503
page saying so (and, for a form sent, that nothing was kept), never a bare 500."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _

from .api_errors import STORAGE_RETRY_AFTER_SECONDS, logger, storage_unavailable_message
from .storage import storage_outage


class StorageOutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not storage_outage(exception):
            return None
        logger.warning("storage unavailable: %s: %s", exception.__class__.__name__, exception)
        response = render(
            request,
            "message.html",
            {
                "title": _("Storage unavailable"),
                "message": storage_unavailable_message(writing=request.method not in ("GET", "HEAD")),
            },
            status=503,
        )
        response["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
        return response
