"""The one way a stored or uploaded file is hashed: SHA-256 over its bytes, read in 1 MiB blocks,
never whole in memory."""

from __future__ import annotations

import hashlib
from typing import IO

BLOCK = 1 << 20


def sha256_of(fileobj: IO[bytes], *, rewind: bool = True) -> tuple[str, int]:
    """(hex SHA-256, size in bytes) of a readable file object.

    With `rewind` the file is read from its start and left at its start again (an upload about to
    be stored); without, it is read from where it stands to its end (a stream).
    """
    hasher = hashlib.sha256()
    size = 0
    if rewind:
        fileobj.seek(0)
    while block := fileobj.read(BLOCK):
        hasher.update(block)
        size += len(block)
    if rewind:
        fileobj.seek(0)
    return hasher.hexdigest(), size
