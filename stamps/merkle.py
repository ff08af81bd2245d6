"""The Merkle tree over a batch's hashes, and inclusion proofs.

leaf = sha256(0x00 || digest), node = sha256(0x01 || left || right) (RFC 6962's prefixes, so a node
can never pass for a leaf); an odd node at the end of a level moves up unchanged. A proof is the list
of siblings from the leaf to the root, each marked "L" (the sibling is on the left) or "R".
"""

from __future__ import annotations

import hashlib


def leaf_hash(digest_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(digest_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree(digests: list[str]) -> tuple[str, list[list[list[str]]]]:
    """(root hex, one proof per digest, in order) for a non-empty list of SHA-256 hex digests."""
    if not digests:
        raise ValueError("a Merkle tree needs at least one leaf")
    level = [leaf_hash(d) for d in digests]
    proofs: list[list[list[str]]] = [[] for _ in digests]
    # Where each original leaf sits in the current level.
    where = list(range(len(digests)))
    while len(level) > 1:
        for leaf, index in enumerate(where):
            sibling = index ^ 1
            if sibling < len(level):
                proofs[leaf].append(["L" if sibling < index else "R", level[sibling].hex()])
            where[leaf] = index // 2
        level = [
            node_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0].hex(), proofs


def root_from(digest_hex: str, proof: list) -> str:
    """The root a digest and its proof lead to (hex). Raises ValueError on a malformed proof."""
    value = leaf_hash(digest_hex)
    for step in proof:
        side, sibling = step
        other = bytes.fromhex(sibling)
        if len(other) != 32 or side not in ("L", "R"):
            raise ValueError("malformed proof step")
        value = node_hash(other, value) if side == "L" else node_hash(value, other)
    return value.hex()
