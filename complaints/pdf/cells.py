"""Table cells that never break a word: column widths from their content, and lines broken by
Chinese line-breaking rules before reportlab sees them.

reportlab's CJK wrapping may break anywhere, inside "17012345678" or "E-0007" too, and a fixed
narrow column splits "联系第三方" into "联系第三/方". Here a column is as wide as its longest line
needs (up to a cap), never narrower than its longest unbreakable run (a Latin word, a number, a
file name), and each cell's text is broken into lines by `wrap_text`: between Chinese characters or
at spaces, never inside a Latin word or a number, no line starting with closing punctuation (，。）」)
or ending with opening punctuation (（「“). The lines are handed to reportlab with explicit breaks
and each fits its column, so reportlab adds none of its own.
"""

from __future__ import annotations

import re

from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import LongTable, TableStyle

from .furniture import para, printable

# A run that must stay on one line: anything but spaces and CJK characters or punctuation.
_CJK = "\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef"
_TOKENS = re.compile(rf"[^\s{_CJK}]+|\s+|[{_CJK}]")
CANNOT_START = set("，。、；：？！）」』】〉》”’…—·%,.;:?!)]}")
CANNOT_END = set("（「『【〈《“‘([{")
PADDING = 2.5
# Headroom so reportlab's own measurement, summed glyph by glyph, never finds a line too long.
SLACK = 0.6


def _width(text: str, font: str, size: float) -> float:
    return stringWidth(text, font, size)


def tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def wrap_text(text: str, width: float, font: str, size: float) -> list[str]:
    """The lines of `text` (its own line breaks kept) within `width` points."""
    out: list[str] = []
    for paragraph in printable(str(text), font).split("\n"):
        out += _wrap_line(paragraph, width - SLACK, font, size)
    return out


def _wrap_line(text: str, width: float, font: str, size: float) -> list[str]:
    lines: list[list[str]] = []
    current: list[str] = []

    def used() -> float:
        return _width("".join(current), font, size)

    for token in tokens(text):
        if token.isspace():
            if current:
                current.append(" ")
            continue
        if used() + _width(token, font, size) <= width:
            current.append(token)
            continue
        # The token does not fit on this line.
        carried: list[str] = []
        while current and current[-1] == " ":
            current.pop()
        if token[0] in CANNOT_START and len(current) > 1 and len(current[-1]) == 1:
            # Closing punctuation never starts a line: the character before it goes down too.
            carried.append(current.pop())
        while len(current) > 1 and current[-1] and current[-1][-1] in CANNOT_END:
            # Opening punctuation never ends a line.
            carried.insert(0, current.pop())
        if current:
            lines.append(current)
        current = carried
        if _width("".join(current) + token, font, size) <= width:
            current.append(token)
            continue
        # A run longer than a whole line (a hash in a narrow column) is the one thing split.
        for char in token:
            if current and used() + _width(char, font, size) > width:
                lines.append(current)
                current = []
            current.append(char)
    if current:
        lines.append(current)
    return ["".join(line).strip() for line in lines] or [""]


def min_width(text: str, font: str, size: float) -> float:
    """The widest unbreakable run of `text` (a Latin word, a number, one Chinese character)."""
    return max(
        (_width(t, font, size) for t in tokens(printable(str(text), font)) if not t.isspace()), default=0
    )


def natural_width(text: str, font: str, size: float) -> float:
    """The width of `text`'s longest line, unbroken."""
    return max((_width(line, font, size) for line in printable(str(text), font).split("\n")), default=0)


def fit_widths(
    texts: list[list[str | None]],
    *,
    total: float,
    flexible: int,
    font: str,
    size: float,
    caps: dict[int, float] | None = None,
    padding: float = PADDING,
) -> list[float]:
    """Column widths from content: each column as wide as its longest line needs, up to its cap
    (never below its longest unbreakable run); the flexible column takes what is left. When that is
    too little, the other columns give back room down to their unbreakable runs."""
    caps = caps or {}
    columns = max(len(row) for row in texts)
    need = [0.0] * columns
    floor = [0.0] * columns
    for row in texts:
        for index, text in enumerate(row):
            if text is None:
                continue
            need[index] = max(need[index], natural_width(text, font, size))
            floor[index] = max(floor[index], min_width(text, font, size))
    widths = []
    for index in range(columns):
        cap = caps.get(index, total)
        widths.append(max(min(need[index], cap), floor[index]) + 2 * padding + 2 * SLACK)
    others = sum(w for i, w in enumerate(widths) if i != flexible)
    wanted_flexible = max(floor[flexible] + 2 * padding, total * 0.3)
    if total - others < wanted_flexible:
        # Give back room, each column down to (at least) its unbreakable runs.
        spare = [max(widths[i] - floor[i] - 2 * padding, 0) if i != flexible else 0 for i in range(columns)]
        shortfall = min(wanted_flexible - (total - others), sum(spare))
        if sum(spare):
            for i in range(columns):
                widths[i] -= shortfall * spare[i] / sum(spare)
        others = sum(w for i, w in enumerate(widths) if i != flexible)
    widths[flexible] = total - others
    return widths


def cell_table(
    rows: list[list],
    *,
    style,
    total: float,
    flexible: int,
    caps: dict[int, float] | None = None,
    header: bool = True,
    lines: bool = True,
    commands: list | None = None,
):
    """A LongTable whose text cells (str) are wrapped by `wrap_text` in columns fitted to their
    content; other cells (flowables, lists of flowables) are kept as they are and do not size the
    columns. `caps` are maximum widths in points; `flexible` is the column that takes the rest."""
    font, size = style.fontName, style.fontSize
    texts = [[cell if isinstance(cell, str) else None for cell in row] for row in rows]
    widths = fit_widths(texts, total=total, flexible=flexible, font=font, size=size, caps=caps)
    shown = [
        [
            para("\n".join(wrap_text(cell, widths[index] - 2 * PADDING, font, size)), style)
            if isinstance(cell, str)
            else cell
            for index, cell in enumerate(row)
        ]
        for row in rows
    ]
    table = LongTable(shown, colWidths=widths, repeatRows=1 if header else 0)
    base = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), PADDING),
    ]
    if lines:
        base.append(("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d5dae1")))
    if header:
        base.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3e8ef")))
    table.setStyle(TableStyle(base + (commands or [])))
    return table
