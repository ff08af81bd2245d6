"""Pages and API answers leave compressed: on a slow phone connection the HTML of a timeline is most
of the wait (static files are compressed ahead of time by WhiteNoise, see STORAGES in settings).

Only complete text responses are compressed. Evidence, dossier PDFs and bundles are streamed file
responses: already compressed or not worth it, and their Content-Length stays, so a download's
progress and size stay exact.

BREACH (guessing a secret on a page from the compressed size while injecting text into it) is
answered the way Django answers it: the CSRF token in every form is masked with a new random value
on each response, so it never repeats between responses, and Django's GZipMiddleware (4.2+) adds
random padding to each compressed body ("Heal The Breach"), which blurs the size that the attack
measures. Session cookies and API tokens travel in headers, which are not compressed.
"""

from __future__ import annotations

from django.middleware.gzip import GZipMiddleware

COMPRESSED_TYPES = ("text/html", "application/json", "text/plain", "text/csv")


class TextGZipMiddleware(GZipMiddleware):
    def process_response(self, request, response):
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if response.streaming or content_type not in COMPRESSED_TYPES:
            return response
        return super().process_response(request, response)
