"""Text fit for a mail header.

A subject is one header line: Django refuses one holding a line break (BadHeaderError), so a name
typed with a newline (a complaint's addressee, pasted from a letter) used to stop every reminder
after it. Line breaks and other control characters become spaces here, before the mail is made.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Long enough for any subject this app writes; a header line past ~998 bytes breaks mail servers.
SUBJECT_LIMIT = 200


def header_safe(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """One line of printable text: control and separator characters (CR, LF, NUL, U+2028...) as
    single spaces, trimmed, cut at `limit` characters."""
    spaced = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text))
    line = _SPACES.sub(" ", spaced).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
