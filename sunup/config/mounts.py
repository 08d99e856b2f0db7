"""Mount paths and sources as the platform reads them (spec §4)."""

from __future__ import annotations

#: Legacy and alias sources and what they are on Upsun.
SOURCE_ALIASES = {"local": "instance", "shared": "storage", "temporary": "tmp"}


def normalize_mount_path(path: str) -> str:
    """A mount path relative to the app root, without leading or trailing slashes."""
    return "/".join(part for part in path.strip().split("/") if part and part != ".")


def canonical_source(source: str) -> str:
    """`local` → `instance`, `shared` → `storage`, `temporary` → `tmp`; others unchanged."""
    return SOURCE_ALIASES.get(source, source)
