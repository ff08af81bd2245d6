"""Documents the app writes carry the moment they were written; a test that tells a story in the past
(a notice written and sent in March) writes them under a clock set to that moment."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from unittest import mock


@contextmanager
def written_on(moment: datetime):
    """Run the block as if it were `moment` (django.utils.timezone.now answers it, in UTC as it
    always does: the audit chain hashes the time as written)."""
    with mock.patch("django.utils.timezone.now", return_value=moment.astimezone(UTC)):
        yield
