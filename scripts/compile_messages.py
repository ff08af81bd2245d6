"""Compile locale/*/LC_MESSAGES/django.po into .mo files with polib (no GNU gettext needed).

The .mo files are build output: `make run` and `make test` make them, git ignores them.
"""

from __future__ import annotations

from pathlib import Path

import polib

BASE_DIR = Path(__file__).resolve().parents[1]


def main() -> None:
    for po_path in sorted(BASE_DIR.glob("locale/*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))


if __name__ == "__main__":
    main()
