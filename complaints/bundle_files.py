"""The bundle's files besides the evidence, and the sealed list of them.

calls.csv and summary.txt are derived from the sealed manifest alone. From manifest format /4 on, the
manifest also seals a "bundle" section: the SHA-256 of every file the bundle holds at issue besides
the evidence (calls.csv, summary.txt, verify.py, the trusted-timestamp files stamped by then), and the
version of verify.py it carries. A stranger's `python3 verify.py` then checks every file against the
seal, with nothing but the bundle; and a later release that changes how these files are written
cannot change what an issued bundle must hold.

verify.py's versions live in complaints/verify_py/v<N>.py and are never edited once released: a new
version is a new file, so every issued bundle is written with the bytes its manifest sealed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from stamps.bundle import stamp_files

from .summary import calls_csv

VERIFY_PY_VERSION = 1
VERIFY_PY_DIR = Path(__file__).resolve().parent / "verify_py"


def verify_py_bytes(version: int) -> bytes:
    return (VERIFY_PY_DIR / f"v{int(version)}.py").read_bytes()


def derived_files(manifest: dict) -> dict[str, bytes]:
    """calls.csv (for the lender's dialler logs), summary.txt (for a chat or web form) and, for a
    manifest that seals one, verify.py."""
    files = {"calls.csv": calls_csv(manifest)}
    summary = manifest.get("summary")
    if summary:
        files["summary.txt"] = (summary["long"] + "\n\n" + summary["short"] + "\n").encode("utf-8")
    sealed = manifest.get("bundle") or {}
    if sealed.get("verify_py"):
        files["verify.py"] = verify_py_bytes(sealed["verify_py"])
    return files


def bundle_section(manifest: dict) -> dict:
    """What the manifest seals of the bundle: called on the complete manifest, before sealing."""
    files = {path: hashlib.sha256(data).hexdigest() for path, data in derived_files(manifest).items()}
    files["verify.py"] = hashlib.sha256(verify_py_bytes(VERIFY_PY_VERSION)).hexdigest()
    for path, data in stamp_files(manifest.get("evidence") or []).files.items():
        files[path] = hashlib.sha256(data).hexdigest()
    return {"verify_py": VERIFY_PY_VERSION, "files": dict(sorted(files.items()))}


def known_verify_py() -> dict[str, int]:
    """The SHA-256 of every verify.py version this software has shipped, to its version."""
    return {
        hashlib.sha256(path.read_bytes()).hexdigest(): int(path.stem[1:])
        for path in sorted(VERIFY_PY_DIR.glob("v*.py"))
        if path.stem[1:].isdigit()
    }


def unsealed_verify_py(manifest: dict) -> bytes | None:
    """The verify.py an older dossier's bundle carries (its manifest seals none): the current version,
    which reports the files such a manifest does not seal as not checked instead of failing them."""
    return None if (manifest.get("bundle") or {}).get("verify_py") else verify_py_bytes(VERIFY_PY_VERSION)


def sealed_bundle_files(manifest: dict) -> dict[str, str]:
    return dict((manifest.get("bundle") or {}).get("files") or {})
