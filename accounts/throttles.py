"""Recovery codes are guessed like passwords, so they are throttled like the login
(accounts/views.py ThrottledLoginView): every attempt counts against the client's address, failed
ones also against the account and address together, both at LOGIN_RATE."""

from __future__ import annotations

from django.conf import settings

from config.throttling import client_address, hit, parse_rate, peek, throttle


def _pair(request, username: str) -> str:
    return f"{(username or '').strip().lower()}\x1f{client_address(request)}"


def recover_wait(request, username: str) -> int | None:
    """Count this attempt; None when allowed, else the seconds to wait."""
    rate = settings.LOGIN_RATE
    if not rate:
        return None
    wait = throttle(request, "recover", rate)
    if wait is None and username:
        limit, window = parse_rate(rate)
        wait = peek("recover-failed", _pair(request, username), limit=limit, window=window)
    return wait


def recover_failed(request, username: str) -> None:
    """Count a failed attempt against the account and address."""
    if settings.LOGIN_RATE and username:
        limit, window = parse_rate(settings.LOGIN_RATE)
        hit("recover-failed", _pair(request, username), limit=limit, window=window)
