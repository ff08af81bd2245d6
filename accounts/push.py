"""Reminders that arrive without e-mail: Web Push (VAPID, aes128gcm payloads via pywebpush) to every
browser or installed app the person subscribed, and the in-app list with its badge.

The VAPID key pair is made once and kept in the data folder (VAPID_PRIVATE_KEY_FILE), like the
dossier signing key: never in the repository, and the same key across restarts, since a browser's
subscription is bound to the public key it was made with.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.templatetags.static import static
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from ledger.chain import audit_append

from .models import Notification, Profile, PushSubscription

logger = logging.getLogger("accounts.push")


def _key_file() -> Path:
    return Path(settings.VAPID_PRIVATE_KEY_FILE)


def _private_key() -> ec.EllipticCurvePrivateKey:
    """The installation's VAPID key, made on first use. O_EXCL makes two processes starting at once
    agree on one key: the second finds the first one's file."""
    path = _key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            # Another process made the key between our look and our write: theirs is the one
            # subscriptions are bound to, so it is read below and ours is dropped.
            fd = None
        if fd is not None:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            return key
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def vapid_public_key() -> str:
    """The public key as browsers want it for applicationServerKey: the uncompressed P-256 point,
    base64url without padding."""
    point = (
        _private_key()
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return _b64url(point)


def _vapid() -> Vapid:
    return Vapid.from_pem(
        _private_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _subject() -> str:
    """The VAPID `sub` claim: who a push service may contact about this sender."""
    if settings.VAPID_SUBJECT:
        return settings.VAPID_SUBJECT
    site = settings.SITE_URL or ""
    return site if site.startswith("https://") else "mailto:webmaster@localhost"


# --- subscriptions -------------------------------------------------------------------------------------


def _check_endpoint(endpoint: str) -> None:
    """The server will POST to this address: only to the push services of PUSH_SERVICE_ORIGINS
    (the browsers' own), never to an address someone typed (a host inside the server's network)."""
    parts = urlsplit(endpoint)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if (
        not parts.scheme
        or not parts.netloc
        or not any(fnmatch.fnmatchcase(origin, allowed.lower()) for allowed in settings.PUSH_SERVICE_ORIGINS)
    ):
        raise ValidationError({"endpoint": [_("This is not the address of a browser's push service.")]})


@transaction.atomic
def subscription_save(*, user, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Keep a browser's subscription; the same endpoint again takes its new keys."""
    _check_endpoint(endpoint)
    subscription, created = PushSubscription.objects.select_for_update().get_or_create(
        user=user, endpoint=endpoint, defaults={"p256dh": p256dh, "auth": auth}
    )
    if not created:
        subscription.p256dh, subscription.auth, subscription.last_error = p256dh, auth, ""
    subscription.full_clean()
    subscription.save()
    audit_append(
        owner=user,
        action="push.subscribe",
        subject=subscription,
        payload={"endpoint_host": urlsplit(endpoint).hostname or "", "new": created},
    )
    return subscription


@transaction.atomic
def subscription_delete(*, subscription: PushSubscription, reason: str = "unsubscribed") -> None:
    audit_append(
        owner=subscription.user, action="push.unsubscribe", subject=subscription, payload={"reason": reason}
    )
    subscription.delete()


# --- sending -------------------------------------------------------------------------------------------


def push_send(*, user, title: str, body: str, url: str = "", tag: str = "", session=None) -> int:
    """Send one message to every subscription of `user`; returns how many push services took it.

    Best effort, after the reminder's transaction has committed: a push service that answers 404
    or 410 (the browser dropped the subscription) has it removed; any other failure is noted on the
    subscription and logged, and the in-app list still holds the reminder."""
    payload = json.dumps(
        _as_shown(user, {"title": title, "body": body, "url": url, "tag": tag}), ensure_ascii=False
    )
    sent = 0
    for subscription in PushSubscription.objects.filter(user=user).order_by("pk"):
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            webpush(
                info,
                data=payload,
                vapid_private_key=_vapid(),
                vapid_claims={"sub": _subject()},
                timeout=settings.PUSH_TIMEOUT_SECONDS,
                ttl=settings.PUSH_TTL_SECONDS,
                requests_session=session,
            )
        except WebPushException as exc:
            code = getattr(exc.response, "status_code", None)
            if code in (404, 410):
                subscription_delete(subscription=subscription, reason=f"push service answered {code}")
                continue
            _note_failure(subscription, f"{code or ''} {exc}".strip())
        except Exception as exc:  # an unreachable push service must not stop the others
            _note_failure(subscription, f"{type(exc).__name__}: {exc}")
        else:
            sent += 1
            if subscription.last_error:
                PushSubscription.objects.filter(pk=subscription.pk).update(last_error="")
    return sent


def _as_shown(user, message: dict) -> dict:
    """In discreet mode (Profile.discreet) a lock screen shows "Notes", a plain line and the notepad
    icon, never what the reminder is about: the list in the app, behind the login, holds that."""
    profile = Profile.objects.filter(user=user).only("discreet", "language").first()
    if profile is None or not profile.discreet:
        return message
    with translation.override(profile.language):
        return {
            **message,
            "title": _("Notes"),
            "body": _("You have a new note."),
            "icon": static("icons/notes-192.png"),
        }


def _note_failure(subscription: PushSubscription, reason: str) -> None:
    logger.warning("push to subscription %s failed: %s", subscription.pk, reason)
    PushSubscription.objects.filter(pk=subscription.pk).update(last_error=reason[:200])


# --- the in-app list -----------------------------------------------------------------------------------


def notification_create(
    *, user, title: str, body: str = "", url: str = "", case_id: int | None = None
) -> Notification:
    """A message in the app's list, in the caller's transaction (the caller appends the audit link:
    a reminder is one event however many channels carry it)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notification_create must run inside the caller's transaction")
    notification = Notification(user=user, title=title[:200], body=body, url=url[:500], case_id=case_id)
    notification.full_clean()
    notification.save()
    return notification


@transaction.atomic
def notifications_mark_read(*, user, case_id: int | None = None) -> int:
    """Mark the user's unread notifications (of one case, or all) read; one audit link when any were."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if case_id is not None:
        unread = unread.filter(case_id=case_id)
    ids = list(unread.values_list("pk", flat=True))
    if not ids:
        return 0
    Notification.objects.filter(pk__in=ids).update(read_at=timezone.now())
    audit_append(owner=user, action="notification.read", subject=user, payload={"notifications": ids})
    return len(ids)


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
