"""Redis: `redis` (ephemeral, nothing written to disk) and `redis-persistent` (append-only file).

- Server: the machine's ``redis-server`` bound to 127.0.0.1, no unix socket, logging to stdout.
  `redis` saves nothing (``--save "" --appendonly no``); `redis-persistent` keeps an append-only
  file in ``<home>/data`` (``--appendonly yes --appendfsync everysec``).
- `configuration.maxmemory_policy` becomes ``--maxmemory-policy`` (default ``allkeys-lru``).
- No users: like the platform, the relationship has no username and no password.
- Stop: SIGTERM, Redis's normal shutdown (the append-only file is flushed).
"""

from __future__ import annotations

from sunup.errors import RuntimeFailure
from sunup.plan.relationships import Credentials
from sunup.services.binaries import Binary, find_program, version_of
from sunup.services.model import Progress, ServiceProcess, server_env
from sunup.services.probes import redis_ping
from sunup.services.provider import ServerProvider
from sunup.services.state import LOOPBACK, ServiceState

POLICIES = frozenset(
    {
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    }
)
DEFAULT_POLICY = "allkeys-lru"


class RedisProvider(ServerProvider):
    engine = "redis"
    package = "redis-server"
    same_versions = frozenset({"redis", "redis-persistent"})
    ready_timeout = 60.0

    @property
    def persistent(self) -> bool:
        return self.service.kind.endswith("-persistent")

    def policy(self) -> str:
        policy = str(self.service.configuration.get("maxmemory_policy") or DEFAULT_POLICY)
        if policy not in POLICIES:
            raise RuntimeFailure(
                f"service '{self.service.name}': unknown maxmemory_policy '{policy}'",
                hint=f"one of: {', '.join(sorted(POLICIES))}",
            )
        return policy

    def check(self) -> Binary:
        server = find_program("redis-server", service=self.service.name, package=self.package)
        return Binary(server, version_of([str(server), "--version"], r"v=(\d+\.\d+\.\d+)"))

    async def initialise(self, state: ServiceState, progress: Progress) -> None:
        self.home.data.mkdir(mode=0o700, parents=True)

    def process(self, state: ServiceState) -> ServiceProcess:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persistent else ["--appendonly", "no"]
        )
        argv = (
            str(self.check().path),
            "--port",
            str(state.port),
            "--bind",
            LOOPBACK,
            "--unixsocket",
            "",
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--pidfile",
            str(self.home.run / "redis.pid"),
            "--dir",
            str(self.home.data),
            "--save",
            "",
            *persistence,
            "--maxmemory-policy",
            self.policy(),
        )
        return ServiceProcess(self.service.name, argv, server_env(self.home.root), self.home.root)

    async def ping(self, state: ServiceState) -> str | None:
        return await redis_ping(LOOPBACK, state.port)

    def endpoint_credentials(self, state: ServiceState) -> dict[str, Credentials]:
        return {e.name: Credentials(LOOPBACK, state.port) for e in self.service.endpoints}
