"""A small throttle over Django's cache: at most `limit` attempts per `window` seconds for one key.

The public verify page and endpoint use it; login and sign-up can call the same `hit`. Windows are
fixed and aligned to the clock (an hourly window starts on the hour), so one counter per window is
all there is to keep: `cache.add` then `cache.incr`, atomic on the local-memory, Redis and Memcached
caches. With several web processes the counters must live in a cache they share (THROTTLE_CACHE
names it); the default local-memory cache counts each process separately, and `check --deploy`
fails when it would (accounts.checks).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import time

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import ngettext

UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*")


def parse_rate(rate: str) -> tuple[int, int]:
    """'30/hour' -> (30, 3600): attempts allowed, per window of seconds. Also '5/10min', '100/day'."""
    match = RATE.fullmatch(rate.lower())
    if not match or match.group(3) not in UNITS or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"a rate is '<attempts>/<unit>' such as '30/hour' or '5/10min', not {rate!r}"
        )
    return int(match.group(1)), int(match.group(2) or 1) * UNITS[match.group(3)]


def _cache():
    return caches[getattr(settings, "THROTTLE_CACHE", "default")]


def _counter(scope: str, key: str, window: int, now: float) -> tuple[str, float]:
    """The cache key of `key`'s counter in the current window, and the seconds left in it."""
    bucket = int(now // window)
    # The key is hashed: it may be an address (kept out of the cache in clear) or a user name.
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"throttle:{scope}:{window}:{bucket}:{digest}", (bucket + 1) * window - now


def hit(scope: str, key: str, *, limit: int, window: int, now: float | None = None) -> int | None:
    """Count one attempt of `key` in `scope`. None while within `limit` attempts per `window`
    seconds; past it, the whole seconds to wait until the window ends (for Retry-After)."""
    now = time.time() if now is None else now
    cache_key, remaining = _counter(scope, key, window, now)
    cache = _cache()
    cache.add(cache_key, 0, timeout=math.ceil(remaining) + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:
        # Evicted or expired between add and incr: this attempt starts the count again.
        cache.set(cache_key, 1, timeout=math.ceil(remaining) + 1)
        count = 1
    if count <= limit:
        return None
    return max(1, math.ceil(remaining))


def peek(scope: str, key: str, *, limit: int, window: int, now: float | None = None) -> int | None:
    """Like hit(), without counting: None while fewer than `limit` were counted in this window,
    else the seconds to wait. For counters of failures, counted only once an attempt has failed."""
    now = time.time() if now is None else now
    cache_key, remaining = _counter(scope, key, window, now)
    if int(_cache().get(cache_key) or 0) < limit:
        return None
    return max(1, math.ceil(remaining))


def client_address(request) -> str:
    """The client's address as the throttle counts it.

    REMOTE_ADDR, unless THROTTLE_PROXY_HOPS trusted proxies stand in front: then the address the
    outermost of them saw, read from the right of X-Forwarded-For (entries further left are
    whatever the client chose to send). IPv6 addresses count by their /64, the block one
    subscriber is usually given, so rotating addresses within it gains nothing.
    """
    address = request.META.get("REMOTE_ADDR", "")
    hops = int(getattr(settings, "THROTTLE_PROXY_HOPS", 0))
    if hops > 0:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
        ]
        if forwarded:
            address = forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


def throttle(request, scope: str, rate: str | None) -> int | None:
    """Count one attempt by this request's client against `rate` ('30/hour'; empty = no limit).
    None when allowed, else the seconds to wait."""
    if not rate:
        return None
    limit, window = parse_rate(rate)
    return hit(scope, client_address(request), limit=limit, window=window)


def wait_message(seconds: int) -> str:
    """'Too many attempts…', naming the wait in minutes (in seconds under two minutes)."""
    if seconds < 120:
        return ngettext(
            "Too many attempts from your address. Try again in %(count)d second.",
            "Too many attempts from your address. Try again in %(count)d seconds.",
            seconds,
        ) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext(
        "Too many attempts from your address. Try again in %(count)d minute.",
        "Too many attempts from your address. Try again in %(count)d minutes.",
        minutes,
    ) % {"count": minutes}
