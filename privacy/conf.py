"""Settings of export and deletion, with their defaults (read from Django settings when set there)."""

from __future__ import annotations

from django.conf import settings

DEFAULTS: dict[str, float | str] = {
    # A finished export is kept this many days, then its zip is deleted (the user can make another).
    "EXPORT_KEEP_DAYS": 7,
    # Where the zip is written while it is built (then copied to storage): a folder with room for
    # the largest account. Empty: the system's temporary folder.
    "EXPORT_TEMP_DIR": "",
    # A running export whose heartbeat has not moved for this long was interrupted (its worker died).
    "EXPORT_STALL_SECONDS": 900,
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])
