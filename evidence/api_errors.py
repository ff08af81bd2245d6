"""One error shape for the whole API: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .archives import ArchiveRefused
from .services import EvidenceRejected
from .shares import ShareForbidden
from .storage import storage_outage

logger = logging.getLogger("evidence.storage")
# How long a client should wait before trying again when the evidence store is unreachable.
STORAGE_RETRY_AFTER_SECONDS = 60


def storage_unavailable_message(*, writing: bool = True) -> str:
    if not writing:
        return _("The evidence store cannot be reached just now. Try again in a few minutes.")
    return _(
        "The evidence store cannot be reached just now, so nothing was kept. Try again in a few "
        "minutes; keep the file until then."
    )


def error_response(code: str, message: str, http_status: int, fields: dict | None = None) -> Response:
    body: dict = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = {name: [str(m) for m in messages] for name, messages in fields.items()}
    return Response({"error": body}, status=http_status)


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            out[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc, context):
    if storage_outage(exc):
        # A hung or unreachable object store: bounded by the S3 timeouts (config/settings.py), then
        # a 503 the client can act on instead of a 500 without the error shape.
        logger.warning("storage unavailable: %s: %s", exc.__class__.__name__, exc)
        writing = (
            context["request"].method not in ("GET", "HEAD", "OPTIONS") if context.get("request") else True
        )
        response = error_response("storage_unavailable", storage_unavailable_message(writing=writing), 503)
        response["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, ShareForbidden):
        return error_response("forbidden", exc.message, 403)
    if isinstance(exc, EvidenceRejected | ArchiveRefused):
        return error_response(exc.code, exc.message, exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return error_response("invalid", _("Some fields are not valid."), 400, fields)
    if isinstance(exc, Http404):
        return error_response("not_found", _("Not found."), 404)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        return error_response("invalid", _("Some fields are not valid."), 400, _flatten(exc.detail))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        code = "not_authenticated" if isinstance(exc, exceptions.NotAuthenticated) else "invalid_token"
        message = (
            _("Send 'Authorization: Bearer <token>'; create a token on the API tokens page.")
            if code == "not_authenticated"
            else str(exc.detail)
        )
        response.data = {"error": {"code": code, "message": message}}
        return response
    code = getattr(exc, "default_code", "error")
    detail = exc.detail if hasattr(exc, "detail") else str(exc)
    response.data = {"error": {"code": str(code), "message": str(detail)}}
    return response
