"""How each service type runs in a cluster: image, port, data folder (spec §5, kubernetes.md).

Only the types sunup runs locally are run in the cluster; every other type (and every type with
``--services external``) is reached through an ExternalName Service the user points at a host.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Engine:
    #: The image repository; the tag is the version the configuration asks for.
    image: str
    port: int
    #: Where the server keeps its data (a persistent volume claim per replica).
    data_path: str
    #: The uid the image's server runs as (the official images use 999).
    uid: int = 999


ENGINES: dict[str, Engine] = {
    "mariadb": Engine("docker.io/library/mariadb", 3306, "/var/lib/mysql"),
    "mysql": Engine("docker.io/library/mariadb", 3306, "/var/lib/mysql"),
    "oracle-mysql": Engine("docker.io/library/mysql", 3306, "/var/lib/mysql"),
    "postgresql": Engine("docker.io/library/postgres", 5432, "/var/lib/postgresql/data"),
    "redis": Engine("docker.io/library/redis", 6379, "/data"),
    "redis-persistent": Engine("docker.io/library/redis", 6379, "/data"),
    "rabbitmq": Engine("docker.io/library/rabbitmq", 5672, "/var/lib/rabbitmq"),
}

#: The port of every other type, for the relationships of services the user runs elsewhere.
PORTS: dict[str, int] = {
    "valkey": 6379,
    "valkey-persistent": 6379,
    "memcached": 11211,
    "elasticsearch": 9200,
    "elasticsearch-enterprise": 9200,
    "opensearch": 9200,
    "solr": 8983,
    "mongodb": 27017,
    "mongodb-enterprise": 27017,
    "influxdb": 8086,
    "kafka": 9092,
    "varnish": 80,
    "chrome-headless": 9222,
    "gotenberg": 3000,
    "clickhouse": 9000,
    "vault-kms": 8200,
    "mariadb-replica": 3306,
    "postgresql-replica": 5432,
    **{kind: engine.port for kind, engine in ENGINES.items()},
}

#: Network storage is a volume (a ReadWriteMany claim), not a server.
STORAGE_KIND = "network-storage"
#: The port of another app's web Service (a relationship with endpoint ``http``).
APP_PORT = 80
