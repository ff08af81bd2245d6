"""Resumable uploads with the tus 1.0.0 core protocol (creation extension).

POST creates an upload (Upload-Length, Upload-Metadata with filename and incident or case), PATCH
appends bytes at Upload-Offset, HEAD says how far it got. An interrupted PATCH keeps every byte that
arrived, so the client resumes from the offset HEAD reports. When the last byte arrives the file is
stored exactly like a plain upload: hashed in one pass, sniffed, content-addressed.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from accounts.authentication import BearerTokenAuthentication

from . import selectors, services
from .api_errors import error_response
from .models import ResumableUpload

TUS_VERSION = "1.0.0"
CHUNK = 1 << 16


def _spool_path(upload_id) -> Path:
    folder = Path(settings.RESUMABLE_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / f"{upload_id}.part"


def _metadata(header: str) -> dict[str, str]:
    values = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _sep, encoded = pair.partition(" ")
        try:
            values[key] = base64.b64decode(encoded).decode("utf-8") if encoded else ""
        except (ValueError, UnicodeDecodeError):
            values[key] = ""
    return values


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    return response


class TusBase(APIView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]

    def finalize_response(self, request, response, *args, **kwargs):
        return _tus(super().finalize_response(request, response, *args, **kwargs))


class TusCreate(TusBase):
    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=204)
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = "creation"
        response["Tus-Max-Size"] = str(settings.EVIDENCE_MAX_UPLOAD_BYTES)
        return response

    def post(self, request):
        try:
            length = int(request.headers.get("Upload-Length", ""))
        except ValueError:
            return error_response("invalid", _("Send Upload-Length with the file's size in bytes."), 400)
        if length <= 0:
            return error_response("empty_file", _("The file is empty: there is nothing to keep."), 400)
        if length > settings.EVIDENCE_MAX_UPLOAD_BYTES:
            return error_response("file_too_large", _("The file is larger than the upload limit."), 413)
        meta = _metadata(request.headers.get("Upload-Metadata", ""))
        incident = case = None
        if meta.get("incident", "").isdigit():
            incident = selectors.incident_for(request.user, int(meta["incident"]))
        elif meta.get("case", "").isdigit():
            case = selectors.case_for(request.user, int(meta["case"]))
        else:
            return error_response("invalid", _("Name the incident or the case in Upload-Metadata."), 400)
        upload = ResumableUpload.objects.create(
            id=uuid.uuid4(),
            owner=request.user,
            incident=incident,
            case=case,
            filename=services.sanitise_file_name(meta.get("filename", "upload")),
            length=length,
        )
        _spool_path(upload.id).touch(mode=0o600)
        response = HttpResponse(status=201)
        response["Location"] = request.build_absolute_uri(f"/api/v1/uploads/{upload.id}")
        response["Upload-Offset"] = "0"
        return response


class TusUpload(TusBase):
    def get_upload(self, request, upload_id) -> ResumableUpload:

        return get_object_or_404(ResumableUpload.objects.filter(owner=request.user), pk=upload_id)

    def head(self, request, upload_id):
        upload = self.get_upload(request, upload_id)
        response = HttpResponse(status=200)
        response["Upload-Offset"] = str(upload.offset)
        response["Upload-Length"] = str(upload.length)
        if upload.evidence_id:
            response["Upload-Evidence-Id"] = str(upload.evidence_id)
        return response

    def patch(self, request, upload_id):
        upload = self.get_upload(request, upload_id)
        if request.content_type != "application/offset+octet-stream":
            return error_response(
                "unsupported_type", _("PATCH needs Content-Type: application/offset+octet-stream."), 415
            )
        try:
            offset = int(request.headers.get("Upload-Offset", ""))
        except ValueError:
            return error_response("invalid", _("Send Upload-Offset."), 400)
        if offset != upload.offset or upload.evidence_id:
            response = error_response(
                "offset_mismatch",
                _("The upload is at byte %(offset)d; resume from there.") % {"offset": upload.offset},
                409,
            )
            response["Upload-Offset"] = str(upload.offset)
            return response
        path = _spool_path(upload.id)
        received = upload.offset
        stream = request._request  # raw body, read as it arrives, never whole in memory
        with path.open("r+b") as spool:
            spool.seek(upload.offset)
            spool.truncate()
            try:
                while received < upload.length:
                    block = stream.read(min(CHUNK, upload.length - received))
                    if not block:
                        break
                    spool.write(block)
                    received += len(block)
            finally:
                # Whatever arrived before an interruption counts; the client resumes from here.
                spool.flush()
                ResumableUpload.objects.filter(pk=upload.pk).update(offset=received)
        upload.offset = received
        if upload.offset == upload.length:
            try:
                evidence = self.complete(upload, path)
            except services.EvidenceRejected as exc:
                return error_response(exc.code, exc.message, exc.status)
            response = HttpResponse(status=204)
            response["Upload-Evidence-Id"] = str(evidence.pk)
            response["Upload-Evidence-SHA256"] = evidence.sha256
            response["Upload-Incident-Id"] = str(evidence.incident_id)
        else:
            response = HttpResponse(status=204)
        response["Upload-Offset"] = str(upload.offset)
        return response

    def complete(self, upload: ResumableUpload, path: Path):
        with path.open("rb") as handle:
            assembled = File(handle, name=upload.filename)
            assembled.size = upload.length
            if upload.incident_id:
                evidence = services.evidence_store(incident=upload.incident, upload=assembled)
            else:
                evidence = services.evidence_autofile(case=upload.case, upload=assembled)
        with transaction.atomic():
            ResumableUpload.objects.filter(pk=upload.pk).update(evidence=evidence)
        path.unlink(missing_ok=True)
        return evidence

    def delete(self, request, upload_id):
        upload = self.get_upload(request, upload_id)
        _spool_path(upload.id).unlink(missing_ok=True)
        upload.delete()
        return HttpResponse(status=204)
