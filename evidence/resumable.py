"""Resumable uploads with the tus 1.0.0 core protocol (creation and expiration extensions).

POST creates an upload (Upload-Length, Upload-Metadata with filename and incident or case), PATCH
appends bytes at Upload-Offset, HEAD says how far it got. An interrupted PATCH keeps every byte that
arrived, so the client resumes from the offset HEAD reports. When the last byte arrives the file is
stored exactly like a plain upload: hashed in one pass, sniffed, content-addressed.

Safe with several processes and instances:
- The bytes so far wait in a spool file in RESUMABLE_UPLOAD_DIR. Every web instance must mount the same
  folder (a shared volume): a PATCH may reach any of them. Nothing about an upload is kept in a process.
- A PATCH claims the upload in the database with one conditional UPDATE (`claim`, `claimed_until`), so
  a second PATCH on the same upload, on any process or instance, is answered 409 until the first ends.
  The claim is renewed while bytes arrive; one left by a killed process lapses after CLAIM_SECONDS.
- The recorded offset only ever counts bytes already flushed to the spool (fsync), and a spool found
  shorter than it rewinds the offset, so after a crash HEAD reports bytes that really are there.
- The last byte leaves the offset at Upload-Length; the evidence row and the upload's link to it commit
  in one transaction, and the spool is deleted only after that commit. A crash while storing leaves an
  upload whose bytes are all there: the next HEAD or PATCH stores it.
- Uploads expire (Upload-Expires, RESUMABLE_UPLOAD_EXPIRY_HOURS after the last PATCH); unfinished ones
  count against a per-user quota (RESUMABLE_MAX_INFLIGHT_BYTES, RESUMABLE_MAX_INFLIGHT_UPLOADS), and
  `manage.py cleanup_uploads` removes expired uploads and their spool files.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.http import http_date
from django.utils.translation import gettext as _
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from accounts.authentication import BearerTokenAuthentication
from accounts.services import profile_for

from . import selectors, services
from .api_errors import error_response
from .models import EvidenceFile, ResumableUpload

logger = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,expiration"
CHUNK = 1 << 16
# A claim not renewed for this long has lapsed (its process was killed); renewed at half of it.
CLAIM_SECONDS = 20
# While a PATCH streams in, the spool is synced and the offset recorded at least this often.
PROGRESS_BYTES = 8 << 20
_ID = re.compile(r"[0-9]{1,18}")


def expiry_hours() -> int:
    return getattr(settings, "RESUMABLE_UPLOAD_EXPIRY_HOURS", 24)


def spool_folder() -> Path:
    return Path(settings.RESUMABLE_UPLOAD_DIR)


def spool_path(upload_id) -> Path:
    return spool_folder() / f"{upload_id}.part"


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


def _with_state(response, upload: ResumableUpload):
    response["Upload-Offset"] = str(upload.offset)
    if upload.expires_at:
        response["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return response


def _not_expired(now: datetime) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def _claim_free(now: datetime) -> Q:
    return Q(claim__isnull=True) | Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def _expired(upload: ResumableUpload, now: datetime) -> bool:
    return upload.expires_at is not None and upload.expires_at <= now


def _claim(upload: ResumableUpload, token: uuid.UUID, *, offset: int) -> bool:
    """Take the upload for one request: a single conditional UPDATE, atomic in every database and
    across processes and instances. Fails while another request holds an unexpired claim."""
    now = timezone.now()
    return bool(
        ResumableUpload.objects.filter(pk=upload.pk, offset=offset, evidence__isnull=True)
        .filter(_claim_free(now), _not_expired(now))
        .update(
            claim=token,
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            expires_at=now + timedelta(hours=expiry_hours()),
        )
    )


def _renew(upload: ResumableUpload, token: uuid.UUID, offset: int) -> bool:
    """Extend our claim and record the bytes flushed so far; False when another request took over."""
    now = timezone.now()
    return bool(
        ResumableUpload.objects.filter(pk=upload.pk, claim=token).update(
            offset=offset,
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            expires_at=now + timedelta(hours=expiry_hours()),
        )
    )


def _release(upload: ResumableUpload, token: uuid.UUID, **changes) -> None:
    ResumableUpload.objects.filter(pk=upload.pk, claim=token).update(
        claim=None, claimed_until=None, **changes
    )


def _discard(upload: ResumableUpload) -> None:
    """Forget an upload and, once that has committed, its spool file."""
    with transaction.atomic():
        ResumableUpload.objects.filter(pk=upload.pk).delete()
        path = spool_path(upload.pk)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


def _mismatch(upload: ResumableUpload):
    response = error_response(
        "offset_mismatch",
        _("The upload is at byte %(offset)d; resume from there.") % {"offset": upload.offset},
        409,
    )
    return _with_state(response, upload)


def _busy(upload: ResumableUpload):
    response = error_response(
        "upload_busy",
        _("Another request is sending this upload right now; try again in a moment."),
        409,
    )
    return _with_state(response, upload)


def _gone():
    return error_response("upload_expired", _("This upload has expired; start it again."), 410)


def _spool_missing(upload: ResumableUpload):
    logger.error(
        "tus upload %s: spool file %s is missing; every web instance must mount the same RESUMABLE_UPLOAD_DIR",
        upload.pk,
        spool_path(upload.pk),
    )
    response = error_response(
        "upload_unavailable",
        _("The part of this upload received so far cannot be found on this server; try again in a moment."),
        503,
    )
    return _with_state(response, upload)


class _AlreadyFinished(Exception):
    """Another request stored this upload first."""


class _ClaimLost(Exception):
    """Another request took the upload over (our claim had lapsed)."""


class TusBase(APIView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]

    def finalize_response(self, request, response, *args, **kwargs):
        return _tus(super().finalize_response(request, response, *args, **kwargs))


class TusCreate(TusBase):
    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=204)
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = TUS_EXTENSIONS
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
        if "incident" in meta:
            if not _ID.fullmatch(meta["incident"]):
                return error_response(
                    "invalid",
                    _("Upload-Metadata names no valid incident."),
                    400,
                    {"incident": [_("Give the incident's number.")]},
                )
            incident = selectors.incident_for(request.user, int(meta["incident"]))
        elif "case" in meta:
            if not _ID.fullmatch(meta["case"]):
                return error_response(
                    "invalid",
                    _("Upload-Metadata names no valid case."),
                    400,
                    {"case": [_("Give the case's number.")]},
                )
            case = selectors.case_for(request.user, int(meta["case"]))
        else:
            return error_response("invalid", _("Name the incident or the case in Upload-Metadata."), 400)
        now = timezone.now()
        with transaction.atomic():
            # One owner's creations queue here, so two at once cannot both slip under the quota.
            list(get_user_model().objects.select_for_update().filter(pk=request.user.pk).values_list("pk"))
            _forget_expired(owner=request.user, now=now)
            refused = _over_quota(request.user, length)
            if refused is not None:
                return refused
            upload = ResumableUpload.objects.create(
                id=uuid.uuid4(),
                owner=request.user,
                incident=incident,
                case=case,
                filename=services.sanitise_file_name(meta.get("filename", "upload")),
                length=length,
                expires_at=now + timedelta(hours=expiry_hours()),
            )
        response = HttpResponse(status=201)
        response["Location"] = request.build_absolute_uri(f"/api/v1/uploads/{upload.id}")
        return _with_state(response, upload)


def _forget_expired(*, owner, now: datetime) -> None:
    """The owner's expired uploads go (and their spool files after the commit)."""
    expired = list(
        ResumableUpload.objects.filter(owner=owner, expires_at__lte=now)
        .filter(_claim_free(now))
        .values_list("pk", flat=True)
    )
    if not expired:
        return
    ResumableUpload.objects.filter(pk__in=expired).delete()
    paths = [spool_path(pk) for pk in expired]
    transaction.on_commit(lambda: [path.unlink(missing_ok=True) for path in paths])


def _over_quota(owner, length: int):
    """413 when this upload would take the owner's unfinished uploads over their quota."""
    limit = getattr(settings, "RESUMABLE_MAX_INFLIGHT_BYTES", 2 << 30)
    most = getattr(settings, "RESUMABLE_MAX_INFLIGHT_UPLOADS", 100)
    inflight = ResumableUpload.objects.filter(owner=owner, evidence__isnull=True).aggregate(
        total=Sum("length"), count=Count("pk")
    )
    total, count = inflight["total"] or 0, inflight["count"]
    if total + length > limit:
        return error_response(
            "quota_exceeded",
            _(
                "Unfinished uploads may hold at most %(limit)s at a time; %(inflight)s are waiting. "
                "Finish or cancel some first."
            )
            % {"limit": filesizeformat(limit), "inflight": filesizeformat(total)},
            413,
        )
    if count >= most:
        return error_response(
            "quota_exceeded",
            _("At most %(count)d unfinished uploads are kept at a time. Finish or cancel some first.")
            % {"count": most},
            413,
        )
    return None


class TusUpload(TusBase):
    def get_upload(self, request, upload_id) -> ResumableUpload:
        uploads = ResumableUpload.objects.filter(owner=request.user).select_related("evidence")
        return get_object_or_404(uploads, pk=upload_id)

    def head(self, request, upload_id):
        upload = self.get_upload(request, upload_id)
        if _expired(upload, timezone.now()):
            return HttpResponse(status=410)
        if upload.evidence_id is None and upload.offset == upload.length:
            # Every byte is here but the evidence was never stored (the server was stopped while
            # storing it): store it now, so a client that only asks where it stands gets its answer.
            token = uuid.uuid4()
            if _claim(upload, token, offset=upload.length):
                result = self.finish(upload, token)
                if not isinstance(result, EvidenceFile):
                    return HttpResponse(status=result.status_code)
            upload = self.get_upload(request, upload_id)
        response = _with_state(HttpResponse(status=200), upload)
        response["Upload-Length"] = str(upload.length)
        if upload.evidence_id:
            response["Upload-Evidence-Id"] = str(upload.evidence_id)
            response["Upload-Evidence-SHA256"] = upload.evidence.sha256
            response["Upload-Incident-Id"] = str(upload.evidence.incident_id)
        return response

    def patch(self, request, upload_id):
        upload = self.get_upload(request, upload_id)
        if _expired(upload, timezone.now()):
            return _gone()
        if request.content_type != "application/offset+octet-stream":
            return error_response(
                "unsupported_type", _("PATCH needs Content-Type: application/offset+octet-stream."), 415
            )
        try:
            offset = int(request.headers.get("Upload-Offset", ""))
        except ValueError:
            return error_response("invalid", _("Send Upload-Offset."), 400)
        if offset != upload.offset or upload.evidence_id:
            return _mismatch(upload)
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return error_response("length_required", _("Send each piece with a Content-Length header."), 411)
        try:
            body_length = max(0, int(request.META.get("CONTENT_LENGTH") or 0))
        except ValueError:
            body_length = 0
        if offset + body_length > upload.length:
            # Refused before a byte of the body is read: nothing past Upload-Length is ever taken.
            response = error_response(
                "beyond_length",
                _("This upload is %(length)d bytes long; send at most %(left)d more.")
                % {"length": upload.length, "left": upload.length - offset},
                413,
            )
            return _with_state(response, upload)
        token = uuid.uuid4()
        if not _claim(upload, token, offset=offset):
            fresh = ResumableUpload.objects.filter(pk=upload.pk).first()
            if fresh is None:
                return error_response("not_found", _("Not found."), 404)
            if fresh.evidence_id or fresh.offset != offset:
                return _mismatch(fresh)
            if _expired(fresh, timezone.now()):
                return _gone()
            return _busy(fresh)
        try:
            received = self.receive(request, upload, token, offset, body_length)
        except _ClaimLost:
            return _busy(ResumableUpload.objects.filter(pk=upload.pk).first() or upload)
        if not isinstance(received, int):
            return received  # an error response
        upload.offset = received
        if received < upload.length:
            current = ResumableUpload.objects.filter(pk=upload.pk).first() or upload
            return _with_state(HttpResponse(status=204), current)
        result = self.finish(upload, token)
        if not isinstance(result, EvidenceFile):
            return result
        response = HttpResponse(status=204)
        response["Upload-Evidence-Id"] = str(result.pk)
        response["Upload-Evidence-SHA256"] = result.sha256
        response["Upload-Incident-Id"] = str(result.incident_id)
        return _with_state(response, ResumableUpload.objects.filter(pk=upload.pk).first() or upload)

    def receive(self, request, upload: ResumableUpload, token: uuid.UUID, offset: int, body_length: int):
        """Append the body to the spool at `offset` while holding the claim; returns the new offset."""
        path = spool_path(upload.pk)
        if offset == 0:
            spool_folder().mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            spool = path.open("r+b")
        except FileNotFoundError:
            _release(upload, token)
            return _spool_missing(upload)
        with spool:
            present = os.fstat(spool.fileno()).st_size
            if present < offset:
                # Bytes the offset counts never reached the disk (a power cut): resume from what is there.
                _release(upload, token, offset=present)
                upload.offset = present
                return _mismatch(upload)
            spool.seek(offset)
            spool.truncate()
            received = offset
            end = offset + body_length
            stream = request._request  # raw body, read as it arrives, never whole in memory
            renew_at = time.monotonic() + CLAIM_SECONDS / 2
            unsynced = 0
            lost = False
            try:
                while received < end:
                    block = stream.read(min(CHUNK, end - received))
                    if not block:
                        break
                    if unsynced >= PROGRESS_BYTES or time.monotonic() >= renew_at:
                        spool.flush()
                        os.fsync(spool.fileno())
                        if not _renew(upload, token, received):
                            lost = True
                            raise _ClaimLost
                        renew_at = time.monotonic() + CLAIM_SECONDS / 2
                        unsynced = 0
                    spool.write(block)
                    received += len(block)
                    unsynced += len(block)
            finally:
                # Whatever arrived before an interruption counts; the client resumes from here.
                if not lost:
                    spool.flush()
                    os.fsync(spool.fileno())
                    if received == upload.length:
                        # Keep the claim while the evidence is stored; the offset says every byte is here.
                        _renew(upload, token, received)
                    else:
                        _release(upload, token, offset=received)
        return received

    def finish(self, upload: ResumableUpload, token: uuid.UUID):
        """Store the complete spool as evidence; the row and the upload's link to it commit together
        and the spool is deleted after that commit. Returns the evidence or an error response."""
        path = spool_path(upload.pk)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            done = ResumableUpload.objects.filter(pk=upload.pk).select_related("evidence").first()
            if done is not None and done.evidence is not None:
                return done.evidence
            _release(upload, token)
            return _spool_missing(upload)
        with handle:
            present = os.fstat(handle.fileno()).st_size
            if present != upload.length:
                _release(upload, token, offset=min(present, upload.length))
                upload.offset = min(present, upload.length)
                return _mismatch(upload)
            assembled = File(handle, name=upload.filename)
            assembled.size = upload.length

            def link(evidence: EvidenceFile) -> None:
                now = timezone.now()
                linked = ResumableUpload.objects.filter(pk=upload.pk, evidence__isnull=True).update(
                    evidence=evidence,
                    offset=upload.length,
                    claim=None,
                    claimed_until=None,
                    expires_at=now + timedelta(hours=expiry_hours()),
                )
                if not linked:
                    raise _AlreadyFinished
                transaction.on_commit(lambda: path.unlink(missing_ok=True))

            try:
                if upload.incident_id:
                    incident = upload.incident
                    info = services.evidence_inspect(upload=assembled, tz=profile_for(incident.case.owner).tz)
                    evidence = services.evidence_store(
                        incident=incident, upload=assembled, inspected=info, on_stored=link
                    )
                else:
                    with transaction.atomic():
                        evidence = services.evidence_autofile(case=upload.case, upload=assembled)
                        link(evidence)
            except services.EvidenceRejected as exc:
                # Refused (not an accepted type, too large): nothing is kept, not even the spool.
                _discard(upload)
                return error_response(exc.code, exc.message, exc.status)
            except _AlreadyFinished:
                done = ResumableUpload.objects.filter(pk=upload.pk).select_related("evidence").first()
                if done is None or done.evidence is None:
                    return error_response("not_found", _("Not found."), 404)
                return done.evidence
            except BaseException:
                _release(upload, token)  # every byte stays; the next HEAD or PATCH tries again
                raise
        return evidence

    def delete(self, request, upload_id):
        upload = self.get_upload(request, upload_id)
        _discard(upload)
        return HttpResponse(status=204)
