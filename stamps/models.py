"""Trusted timestamps for evidence as it arrives (RFC 3161, batched by Merkle tree)."""
