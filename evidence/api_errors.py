"""One error shape for the whole API: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .archives import ArchiveRefused
from .services import EvidenceRejected


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
