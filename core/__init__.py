"""Shared mechanics below every app (design.md, "Layers"): what several apps need the same way and
none of them owns."""
