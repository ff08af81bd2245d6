"""Export and deletion endpoints of API v1 (api-v1.md, "Export and deletion")."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.idempotency import idempotent
from config.throttling import throttle, wait_message
from evidence import shares
from evidence.api import OwnerAPIView
from evidence.api_errors import error_response

from . import services
from .models import Export, ExportStatus
from .storage import export_open


def export_payload(export: Export) -> dict:
    return {
        "id": export.pk,
        "status": export.status,
        "progress": export.progress,
        "note": export.progress_note,
        "error": export.error,
        "size": export.size,
        "sha256": export.sha256,
        "counts": (export.summary or {}).get("counts"),
        "created_at": export.created_at.isoformat(),
        "finished_at": export.finished_at.isoformat() if export.finished_at else None,
        "download_url": reverse("api_export_download", args=[export.pk])
        if export.status == ExportStatus.READY
        else None,
    }


def export_response(export: Export) -> FileResponse:
    """The zip streamed from storage in blocks, never read whole."""
    response = FileResponse(
        export_open(export.storage_name),
        as_attachment=True,
        filename=export.file_name,
        content_type="application/zip",
    )
    response["Content-Length"] = str(export.size)
    response["X-Content-SHA256"] = export.sha256
    response["Cache-Control"] = "private, no-store"
    return response


def _export(request, pk) -> Export:
    return get_object_or_404(Export.objects.for_owner(request.user), pk=pk)


class ExportCreate(OwnerAPIView):
    @idempotent
    def post(self, request):
        export = services.export_create(owner=request.user)
        export.refresh_from_db()
        return Response(export_payload(export), status=status.HTTP_202_ACCEPTED)

    def get(self, request):
        exports = Export.objects.for_owner(request.user)
        return Response({"results": [export_payload(e) for e in exports]})


class ExportDetail(OwnerAPIView):
    def get(self, request, pk: int):
        return Response(export_payload(_export(request, pk)))


class ExportDownload(OwnerAPIView):
    def get(self, request, pk: int):
        export = _export(request, pk)
        if export.status != ExportStatus.READY:
            return error_response(
                "not_ready",
                _("The export is not ready yet (status: %(status)s).") % {"status": export.status},
                404,
            )
        return export_response(export)


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False)


class AccountDelete(OwnerAPIView):
    """DELETE {"password"} → 204. Refused (409) while a case is on hold; nothing changes."""

    def delete(self, request):
        serializer = PasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.account_delete(user=request.user, password=serializer.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class HoldSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


def hold_payload(case) -> dict:
    return {
        "case": case.pk,
        "on_hold": case.hold_at is not None,
        "since": case.hold_at.isoformat() if case.hold_at else None,
        "reason": case.hold_reason,
    }


class CaseHold(OwnerAPIView):
    """GET the hold; POST {"reason"} to put the case on hold; DELETE {"password"} to lift it."""

    def get(self, request, pk: int):
        return Response(hold_payload(shares.case_with_role(request.user, pk)[0]))

    def post(self, request, pk: int):
        # A legal hold is the owner's decision: a helper who can see the case gets 403.
        case = shares.case_with_role(request.user, pk, shares.OWNER)[0]
        serializer = HoldSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case = services.case_hold(case=case, reason=serializer.validated_data["reason"])
        return Response(hold_payload(case))

    def delete(self, request, pk: int):
        """DELETE {"password"}: the owner's password lifts the hold; without it or with a wrong one,
        403 and the hold stays. Attempts count like logins (LOGIN_RATE per address)."""
        case = shares.case_with_role(request.user, pk, shares.OWNER)[0]
        if (wait := throttle(request, "password-check", settings.LOGIN_RATE)) is not None:
            response = error_response("throttled", wait_message(wait), status.HTTP_429_TOO_MANY_REQUESTS)
            response["Retry-After"] = str(wait)
            return response
        password = request.data.get("password") if hasattr(request.data, "get") else None
        case = services.case_release(case=case, password=password if isinstance(password, str) else None)
        return Response(hold_payload(case))
