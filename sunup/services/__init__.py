"""Services: the platform's service types run as real local servers (spec §5).

One provider module per engine behind one chooser, `provider_for`:

    mariadb, mysql, oracle-mysql   mariadb.MariadbProvider      mariadbd
    postgresql                     postgresql.PostgresqlProvider postgres
    redis, redis-persistent        redis.RedisProvider          redis-server
    rabbitmq                       rabbitmq.RabbitmqProvider    rabbitmq-server
    network-storage                storage.StorageProvider      (a folder, no process)

Every provider implements `provider.ServiceProvider`; `manager.ServiceManager` drives them as
child processes until the supervisor does. Errors are `sunup.errors.RuntimeFailure`, with a
hint (the Debian package to install, the log to read).
"""

from __future__ import annotations

from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.plan.model import ServicePlan
from sunup.services.provider import ServiceProvider

#: The service types sunup runs, by the provider module that runs them.
ENGINES = {
    "mariadb": "mariadb",
    "mysql": "mariadb",
    "oracle-mysql": "mariadb",
    "postgresql": "postgresql",
    "redis": "redis",
    "redis-persistent": "redis",
    "rabbitmq": "rabbitmq",
    "network-storage": "storage",
}


def provider_for(service: ServicePlan, services_dir: Path) -> ServiceProvider:
    """The provider of `service`, keeping its files in ``services_dir/<name>/``."""
    engine = ENGINES.get(service.kind)
    if engine == "mariadb":
        from sunup.services.mariadb import MariadbProvider

        return MariadbProvider(service, services_dir)
    if engine == "postgresql":
        from sunup.services.postgresql import PostgresqlProvider

        return PostgresqlProvider(service, services_dir)
    if engine == "redis":
        from sunup.services.redis import RedisProvider

        return RedisProvider(service, services_dir)
    if engine == "rabbitmq":
        from sunup.services.rabbitmq import RabbitmqProvider

        return RabbitmqProvider(service, services_dir)
    if engine == "storage":
        from sunup.services.storage import StorageProvider

        return StorageProvider(service, services_dir)
    raise RuntimeFailure(
        f"service '{service.name}' is of type '{service.type}', which sunup cannot run yet",
        hint=f"types sunup runs: {', '.join(sorted(ENGINES))}",
    )
