"""The versions the platform offers for each service type and runtime (spec §5), and their status.

Source: the platform's image registry, `shared/data/registry.json` of the public Upsun/Platform.sh
documentation repository (github.com/platformsh/platformsh-docs), the file its "Supported
versions" tables are rendered from. `supported` and `deprecated` are its `versions` lists (the
Grid hosting Upsun runs on) at commit c0a6fe7 (2026-08-11); `retired` are the versions an earlier
state of that file listed (since 2020) and the current one no longer does: projects written then
still use them (the shared corpus has many), so they are warnings, and a version the registry
never listed is an error. Composable images' channels come from `shared/data/composable_versions.yaml`
of the same repository (its "available" channels are counted as deprecated). Variants take the
versions of their base type (`redis-persistent` those of `redis`, `mariadb-replica` of `mariadb`,
...). `bun` has no entry in the registry, so its versions are not checked.

Refresh: take the new `versions` lists of the registry; move what left them to `retired`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Versions:
    """The versions of one type, newest first."""

    supported: tuple[str, ...]
    #: Still offered, without security updates from upstream.
    deprecated: tuple[str, ...] = ()
    #: Once offered, no longer listed.
    retired: tuple[str, ...] = ()

    def offered(self) -> str:
        """The versions to suggest, for a hint: `supported: 3.14, 3.13; deprecated: 3.12`."""
        parts = []
        if self.supported:
            parts.append(f"supported: {', '.join(self.supported)}")
        if self.deprecated:
            parts.append(f"deprecated: {', '.join(self.deprecated)}")
        return "; ".join(parts) or f"none is offered any longer (last: {', '.join(self.retired[:3])})"


class Status(enum.Enum):
    SUPPORTED = "supported"
    DEPRECATED = "deprecated"
    RETIRED = "retired"
    UNKNOWN = "unknown"


def version_status(kind: str, version: str) -> tuple[Status, Versions] | None:
    """What the platform says of `kind:version`; None when sunup has no table for `kind`."""
    versions = VERSIONS.get(kind)
    if versions is None:
        return None
    if version in versions.supported:
        return Status.SUPPORTED, versions
    if version in versions.deprecated:
        return Status.DEPRECATED, versions
    if version in versions.retired:
        return Status.RETIRED, versions
    return Status.UNKNOWN, versions


#: kind: (supported, deprecated, retired), newest first.
_TABLE: dict[str, tuple[str, str, str]] = {
    "mariadb": ("12.3 11.8 11.4", "", "11.3 11.2 11.0 11 10.11 10.6 10.5 10.4 10.3 10.2 10.1 10.0 5.5"),
    "mysql": ("12.3 11.8 11.4", "", "11.3 11.2 11.0 10.11 10.6 10.5 10.4 10.3 10.2 10.1 10.0 5.5"),
    "oracle-mysql": ("8.4", "", "8.0 5.7"),
    "postgresql": ("18 17 16 15 14", "", "13 12 11 10 9.6 9.5 9.4 9.3"),
    "redis": ("8.8 8.0 7.2", "6.2", "7.0 6.0 5.0 4.0 3.2 3.0 2.8"),
    "valkey": ("9.0 8.1 8.0", "", ""),
    "rabbitmq": ("4.3", "", "4.1 4.0 3.13 3.12 3.11 3.10 3.9 3.8 3.7 3.6 3.5"),
    "network-storage": ("1.0", "2.0", "0.2"),
    "memcached": ("1.6", "", "1.5 1.4"),
    "elasticsearch": ("7.10", "", "8.5 7.17 7.12 7.9 7.7 7.6 7.5 7.2 6.8 6.5 5.4 5.2 2.4 1.7 1.4 0.90 0.9"),
    "elasticsearch-enterprise": ("9.3 8.19", "", "8.5 7.17"),
    "opensearch": ("3", "2", "2.5 2.0 1.3 1.2 1.1 1"),
    "solr": ("10.0 9.9 9.6 9.4 9.2 9.1", "", "9.7 9.0 8.11 8.6 8.4 8.0 7.7 7.6 6.6 6.3 4.10 4.1 3.6"),
    "mongodb": ("4.0", "", "4.0.3 3.6 3.4 3.2 3.0"),
    "mongodb-enterprise": ("7.0", "", "6.0 5.0 4.4 4.2 4.0"),
    "influxdb": ("3 2.7 2.3", "", "2.2 2.1 2.0 1.8 1.7 1.3 1.2"),
    "kafka": ("4.3 4.1 3.7 3.6", "", "3.4 3.2 2.7 2.6 2.5 2.4 2.3 2.2 2.1"),
    "varnish": ("9.0 6.0", "", "7.6 7.3 7.2 7.1 6.4 6.3 5.6 5.2 5.1"),
    "vault-kms": ("1.12", "", "1.8 1.6"),
    "chrome-headless": ("120 113", "", "95 91 86 84 83 81 80 73"),
    "clickhouse": ("26.3 25.8", "25.3 24.3 23.8", "23"),
    "gotenberg": ("8", "", "8.25"),
    "python": ("3.14 3.13", "3.12 3.11 3.10", "3.9 3.8 3.7 3.6 3.5 2.7"),
    "nodejs": (
        "26 24",
        "22",
        "20 18 16 14 12 10 8.9 8.2 8 6.10 6.9 6.8 6.6 6.3 6.2 6.1 6 4.8 4.7 4.6 4.5 4.4 4.3 4.2 0.12",
    ),
    "php": ("8.5 8.4", "8.3 8.2", "8.1 8.0 7.4 7.3 7.2 7.1 7.0 5.6 5.5 5.4"),
    "ruby": ("4.0 3.4 3.3", "", "3.2 3.1 3.0 2.7 2.6 2.5 2.4 2.3"),
    "golang": (
        "1.26 1.25",
        "",
        "1.24 1.23 1.22 1.21 1.20 1.19 1.18 1.17 1.16 1.15 1.14 1.13 1.12 1.11 1.10 1.9 1.8 1.1",
    ),
    "java": ("25 21 17", "", "20 19 18 14 13 12 11 8"),
    "elixir": ("1.20", "1.19 1.18", "1.15 1.14 1.13 1.12 1.11 1.10 1.9"),
    "dotnet": ("10.0 8.0", "", "7.0 6.0 5.0 3.1 2.2 2.1 2.0"),
    "lisp": ("", "", "2.1 2.0 1.5"),
    "rust": ("1", "", "1.93 1.68"),
    "composable": ("26.05", "25.11 25.05", "24.05"),
}
#: Variants offered in the versions of their base type.
_SAME_AS = {
    "redis-persistent": "redis",
    "valkey-persistent": "valkey",
    "mariadb-replica": "mariadb",
    "postgresql-replica": "postgresql",
}

VERSIONS: dict[str, Versions] = {
    kind: Versions(*(tuple(lists.split()) for lists in _TABLE[_SAME_AS.get(kind, kind)]))
    for kind in (*_TABLE, *_SAME_AS)
}
