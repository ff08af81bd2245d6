"""Spreadsheet-safe CSV cells, for every CSV the app writes (the export's incidents.csv, a bundle's
calls.csv).

A spreadsheet program opening a CSV runs a cell that begins with `=`, `+`, `-` or `@` (a tab or a
carriage return first is read past) as a formula: an SMS body `=HYPERLINK("http://…","…")` or a
phone number `=cmd|…` planted in an imported call log becomes a live link or command on the
reader's machine. Such a cell is written with a leading single quote, so it is read as text
(OWASP, "CSV Injection").

A cell that is only a signed number (a phone number such as `+86 138 0013 8000`, a `-5`) is left
alone: digits, spaces, brackets, dots and hyphens can name no function and no other cell, so a
spreadsheet can at most compute a number from it, and the lender matching calls.csv against its
dialler logs needs the number exactly as the phone showed it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"[+-][0-9][0-9 ().-]*\Z")


def neutralise(value):
    """The cell as written: a string a spreadsheet would run as a formula gains a leading `'`;
    anything else (numbers, None, ordinary text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _SIGNED_NUMBER.match(value):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    return [neutralise(value) for value in row]


class SafeWriter:
    """`csv.writer` with every cell neutralised; use it for any CSV a person may open."""

    def __init__(self, stream, **kwargs):
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable):
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)
