"""What the platform's service types offer: endpoints, schemes, defaults (spec §5)."""

from __future__ import annotations

from typing import Any

#: The default endpoint of a relationship written as null or without `:endpoint`.
_DEFAULT_ENDPOINTS = {
    "mariadb": "mysql",
    "mysql": "mysql",
    "oracle-mysql": "mysql",
    "mariadb-replica": "mysql",
    "postgresql": "postgresql",
    "postgresql-replica": "postgresql",
    "redis": "redis",
    "redis-persistent": "redis",
    "valkey": "valkey",
    "valkey-persistent": "valkey",
    "rabbitmq": "rabbitmq",
    "memcached": "memcached",
    "elasticsearch": "elasticsearch",
    "elasticsearch-enterprise": "elasticsearch",
    "opensearch": "opensearch",
    "solr": "solr",
    "mongodb": "mongodb",
    "mongodb-enterprise": "mongodb",
    "influxdb": "influxdb",
    "kafka": "kafka",
    "varnish": "http",
    "vault-kms": "manage_keys",
    "chrome-headless": "http",
    "clickhouse": "clickhouse",
    "gotenberg": "http",
    "network-storage": "network-storage",
}

#: The URL scheme clients use, as PLATFORM_RELATIONSHIPS reports it.
SCHEMES = {
    "mariadb": "mysql",
    "mysql": "mysql",
    "oracle-mysql": "mysql",
    "mariadb-replica": "mysql",
    "postgresql": "pgsql",
    "postgresql-replica": "pgsql",
    "redis": "redis",
    "redis-persistent": "redis",
    "valkey": "redis",
    "valkey-persistent": "redis",
    "rabbitmq": "amqp",
    "memcached": "memcached",
    "elasticsearch": "http",
    "opensearch": "http",
    "solr": "solr",
    "mongodb": "mongodb",
    "influxdb": "http",
    "kafka": "kafka",
    "varnish": "http",
    "chrome-headless": "http",
}

#: Types whose endpoints come from `configuration.endpoints` (SQL users with privileges).
SQL_TYPES = frozenset({"mariadb", "mysql", "oracle-mysql", "postgresql"})
#: Types whose endpoint names sunup checks; others accept any name.
_FIXED_ENDPOINTS: dict[str, tuple[str, ...]] = {"network-storage": ("network-storage",)}


def relationship_target(name: str, target: Any) -> tuple[Any, Any] | None:
    """(service, endpoint or None) of relationship `name` written as null, `"svc[:ep]"`, or
    ``{service, endpoint}`` (``{}`` means the service of the relationship's name); None for any
    other form (the schema reports it)."""
    if target is None:
        return name, None
    if isinstance(target, str):
        service, _, endpoint = target.partition(":")
        return service, endpoint or None
    if isinstance(target, dict):
        return target.get("service") or name, target.get("endpoint")
    return None


def default_endpoint(kind: str) -> str | None:
    return _DEFAULT_ENDPOINTS.get(kind)


def endpoints_of(kind: str, configuration: Any) -> list[str] | None:
    """The endpoint names a service of `kind` offers, or None when any name may be valid."""
    if kind in SQL_TYPES:
        if isinstance(configuration, dict) and isinstance(configuration.get("endpoints"), dict):
            return list(configuration["endpoints"])
        return [_DEFAULT_ENDPOINTS[kind]]
    fixed = _FIXED_ENDPOINTS.get(kind)
    return list(fixed) if fixed else None
