"""The web app manifest, served per person so discreet mode can rename the installed app.

static/manifest.webmanifest stays the one description of the app (name, share target, colours). In
discreet mode (Profile.discreet) this view hands out the same manifest with a neutral name, "Notes"
(笔记), and a plain notepad icon (static/icons/notes-*.png, drawn by scripts/draw_notes_icon.py), so
someone glancing at the phone's home screen or share sheet does not read what the app is for. A
cookie remembers the choice on this device, so the login page of a phone in discreet mode (after a
log-out) is neutral too. It changes appearance only: nothing here is read to let anyone in.
"""

from __future__ import annotations

import json

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.templatetags.static import static
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

DISCREET_COOKIE = "app_look"
DISCREET_VALUE = "notes"
SOURCE = "manifest.webmanifest"
# The same identity in both looks, so a browser updates the installed app rather than adding another.
APP_ID = "/cases/"


def remember_discreet(response, *, on: bool, secure: bool) -> None:
    if on:
        response.set_cookie(
            DISCREET_COOKIE,
            DISCREET_VALUE,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=secure,
            httponly=True,
        )
    else:
        response.delete_cookie(DISCREET_COOKIE, samesite="Lax")


def _base_manifest() -> dict:
    found = finders.find(SOURCE)
    if found:
        with open(found, "rb") as handle:
            return json.load(handle)
    with staticfiles_storage.open(SOURCE) as handle:
        return json.load(handle)


def manifest_for(*, discreet: bool) -> dict:
    manifest = {**_base_manifest(), "id": APP_ID}
    if not discreet:
        return manifest
    name = _("Notes")
    manifest.update(
        {
            "name": name,
            "short_name": name,
            "description": name,
            "theme_color": "#eceef1",
            "icons": [
                {
                    "src": static("icons/notes-192.png"),
                    "sizes": "192x192",
                    "type": "image/png",
                    "purpose": "any",
                },
                {
                    "src": static("icons/notes-512.png"),
                    "sizes": "512x512",
                    "type": "image/png",
                    "purpose": "any maskable",
                },
            ],
        }
    )
    return manifest


@require_safe
def web_manifest(request):
    manifest = manifest_for(discreet=getattr(request, "discreet", False))
    response = HttpResponse(
        json.dumps(manifest, ensure_ascii=False, indent=2),
        content_type="application/manifest+json; charset=utf-8",
    )
    # Per person: never kept by a shared cache, always asked again so a change of look shows.
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ("Cookie",))
    return response
