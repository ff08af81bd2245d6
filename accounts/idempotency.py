"""Idempotent creates: the same key from the same user within 24 hours creates one thing.

The API honours an `Idempotency-Key` header on every POST that creates (api-v1.md, second wave):
a repeat gets the first response again (same status, same body) and creates nothing more, and a
key reused with a different request is a 409. Pages carry a one-time token in their create forms,
so Back + Save or a double tap saves once and the repeat is sent to what the first one saved.

A key is claimed by inserting its row in the same transaction as the create, under a unique
(user, scope, key) constraint, and the row holds the answer when that transaction commits. A
concurrent duplicate's insert waits for the first transaction (PostgreSQL blocks on the unique
index; SQLite's IMMEDIATE transactions queue on the write lock), then finds the finished row and
answers with it: two requests with one key never both create, and there is never a claim without
its answer, even after a crash. Only successful creates keep their key; an error answer or an
exception frees it, so the same key may be tried again (nothing was created).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.response import Response

from .models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
API, FORM = "api", "form"
REPLAYED_HEADER = "Idempotent-Replayed"


class KeyReused(Exception):
    """The key was used, within its lifetime, for a different request."""


@dataclass(frozen=True)
class Answer:
    """What a first request answered, kept for its repeats."""

    status: int
    body: bytes = b""
    content_type: str = ""
    location: str = ""


def _claim(*, user, scope: str, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Insert the key's row; None when this request holds it now, else the live row that holds it.

    Runs inside the caller's transaction. A row older than KEY_LIFETIME is forgotten (deleted) and
    the key claimed afresh.
    """
    for _attempt in range(3):
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(user=user, scope=scope, key=key, fingerprint=fingerprint)
            return None
        except IntegrityError:
            held = IdempotencyKey.objects.filter(user=user, scope=scope, key=key).first()
            if held is None:  # its transaction rolled back, or it was pruned: try again
                continue
            if held.created_at >= timezone.now() - KEY_LIFETIME:
                return held
            IdempotencyKey.objects.filter(pk=held.pk).delete()
    raise IntegrityError(f"idempotency key {scope}:{key} could not be claimed")


def run_once(
    *,
    user,
    scope: str,
    key: str,
    fingerprint: str | None,
    action: Callable[[], tuple[Any, Answer | None]],
) -> tuple[Any, Answer | None]:
    """Run `action` once for this user's key.

    `action` returns (its result, the Answer to keep) or (its result, None) when nothing was created
    (an error answer): the key is then freed. Returns (the result, None) when the action ran, or
    (None, the first Answer) for a repeat. `fingerprint` None: the key is not tied to one request
    (form tokens); otherwise a repeat with another fingerprint raises KeyReused.
    """
    failure: Exception | None = None
    with transaction.atomic():
        held = _claim(user=user, scope=scope, key=key, fingerprint=fingerprint or "")
        if held is not None:
            if fingerprint is not None and held.fingerprint != fingerprint:
                raise KeyReused(key)
            return None, Answer(
                status=held.status,
                body=bytes(held.body),
                content_type=held.content_type,
                location=held.location,
            )
        claimed = IdempotencyKey.objects.filter(user=user, scope=scope, key=key)
        try:
            result, answer = action()
        except Exception as exc:
            # What the action's services committed (each in its own inner transaction) and their
            # compensations stay exactly as they would without a key; only the claim goes, so the
            # key can be tried again. A transaction the error left unusable rolls back whole.
            if connection.needs_rollback:
                raise
            try:
                with transaction.atomic():
                    claimed.delete()
            except DatabaseError:
                raise exc from None
            failure = exc
        else:
            if answer is None:
                claimed.delete()
            else:
                claimed.update(
                    status=answer.status,
                    body=answer.body,
                    content_type=answer.content_type[:100],
                    location=answer.location[:500],
                )
    if failure is not None:
        raise failure
    return result, None


def idempotency_prune(now=None) -> int:
    """Forget keys older than 24 hours (housekeeping); returns how many rows were deleted."""
    cutoff = (now or timezone.now()) - KEY_LIFETIME
    deleted, _by_model = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- the API ---------------------------------------------------------------------------------------


def request_fingerprint(request) -> str:
    """sha256 of the method, the path and the body. A multipart body is streamed to disk by the upload
    handler, so it stands as its form fields plus each file's field, name, size and sha256 (which
    evidence.uploads.HashingUploadHandler computed as it arrived)."""
    inner = getattr(request, "_request", request)
    digest = hashlib.sha256()
    digest.update(f"{inner.method} {inner.path}\n".encode())
    if (inner.content_type or "").startswith("multipart/"):
        # Reading POST parses the body, running the upload handlers.
        fields = sorted((name, value) for name in request.POST for value in request.POST.getlist(name))
        files = sorted(
            (name, upload.name or "", upload.size, _file_sha256(upload))
            for name in request.FILES
            for upload in request.FILES.getlist(name)
        )
        digest.update(json.dumps({"fields": fields, "files": files}, ensure_ascii=False).encode())
    else:
        digest.update(inner.body)
    return digest.hexdigest()


def _file_sha256(upload) -> str:
    known = getattr(upload, "sha256", None)
    if known:
        return known
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _api_error(code: str, message: str, status: int) -> Response:
    return Response({"error": {"code": code, "message": str(message)}}, status=status)


def idempotent(post):
    """Decorates an APIView's `post`: honours the Idempotency-Key header (api-v1.md)."""

    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return post(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _api_error(
                "invalid",
                _("The Idempotency-Key header must be 1 to %(max)d printable characters.")
                % {"max": MAX_KEY_LENGTH},
                400,
            )
        # The body is read (an upload streamed to disk) before the transaction begins.
        fingerprint = request_fingerprint(request)

        def action():
            response = post(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                return response, None
            # Rendered now, so a repeat answers with exactly these bytes.
            response = view.finalize_response(request, response, *args, **kwargs)
            response.render()
            answer = Answer(
                status=response.status_code,
                body=bytes(response.content),
                content_type=response.get("Content-Type", "application/json"),
            )
            return response, answer

        try:
            response, first = run_once(
                user=request.user, scope=API, key=key, fingerprint=fingerprint, action=action
            )
        except KeyReused:
            return _api_error(
                "idempotency_key_reused",
                _("This Idempotency-Key was already used for a different request."),
                409,
            )
        if first is None:
            return response
        replay = HttpResponse(first.body, status=first.status, content_type=first.content_type)
        replay[REPLAYED_HEADER] = "true"
        return replay

    return wrapper


# --- pages -----------------------------------------------------------------------------------------


def form_once(*, user, token: str, create: Callable[[], str]) -> tuple[str, bool]:
    """Run `create` (which saves something and returns the address of its page) once per one-time
    form token. Returns (that address, True) the first time and (the first address, False) for a
    repeat of the same form. Without a token, `create` simply runs."""
    if not token:
        return create(), True

    def action():
        location = create()
        return location, Answer(status=302, location=location)

    location, first = run_once(user=user, scope=FORM, key=token, fingerprint=None, action=action)
    if first is not None:
        return first.location, False
    return location, True
