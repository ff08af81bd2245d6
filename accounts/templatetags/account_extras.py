"""The unread reminders' badge, on every page (the tab bar's 我的) and on a case's page."""

from __future__ import annotations

from django import template
from django.conf import settings

from accounts.models import Notification

register = template.Library()


# A person has a handful of unread reminders at most: one query per page reads them all, and the
# badge and the case's list are both taken from it.
UNREAD_LIMIT = 200


def _unread(context) -> list:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    cached = getattr(request, "_unread_notifications", None)
    if cached is None:
        cached = list(
            Notification.objects.filter(user=user, read_at__isnull=True).order_by("-created_at", "-id")[
                :UNREAD_LIMIT
            ]
        )
        request._unread_notifications = cached
    return cached


@register.simple_tag(takes_context=True)
def unread_notifications(context, case_id=None) -> int:
    unread = _unread(context)
    if case_id is not None:
        unread = [n for n in unread if n.case_id == case_id]
    return len(unread)


@register.simple_tag(takes_context=True)
def case_notifications(context, case_id) -> list:
    """The unread reminders about one case, newest first."""
    return [n for n in _unread(context) if n.case_id == case_id][:5]


@register.simple_tag
def quick_exit_url() -> str:
    return settings.QUICK_EXIT_URL


@register.simple_tag(takes_context=True)
def app_lock(context) -> dict | None:
    """The lock's settings for this page: None when the person set no PIN."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return None
    profile = getattr(user, "profile", None)
    if profile is None or not profile.pin_hash:
        return None
    return {"minutes": profile.lock_minutes}
