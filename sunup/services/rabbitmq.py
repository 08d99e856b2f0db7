"""RabbitMQ: a node of its own (name, ports, data folder), started without epmd.

- Program: Debian's ``/usr/lib/rabbitmq/bin/rabbitmq-server`` (``/usr/sbin``'s wrapper only
  switches to the system's rabbitmq user), run as the invoking user.
- The node is ``sunup-<service>-<hash>@localhost``; its Erlang distribution listens on a port of
  its own on 127.0.0.1 (``-erl_epmd_port``, ``-start_epmd false``), so it neither needs nor starts
  an epmd daemon and never meets the system's node. Nothing is read from /etc/rabbitmq.
- Users, vhosts and permissions come from a definitions file written before every start and
  imported at boot: the vhost ``/`` plus `configuration.vhosts`, and one user per endpoint with
  all permissions on every vhost. No ``guest`` user is created.
- Stop: SIGTERM, the Erlang VM's orderly shutdown.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from sunup.atomicfile import write_atomically
from sunup.plan.relationships import Credentials
from sunup.services.binaries import Binary, find_program
from sunup.services.model import Progress, ServiceProcess, server_env
from sunup.services.probes import amqp_ping
from sunup.services.provider import ServerProvider
from sunup.services.state import LOOPBACK, ServiceState

DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode("ascii")


class RabbitmqProvider(ServerProvider):
    engine = "rabbitmq"
    package = "rabbitmq-server"
    same_versions = frozenset({"rabbitmq"})
    port_names = ("main", "dist")
    ready_timeout = 120.0

    def _server(self) -> Path:
        return find_program(
            "rabbitmq-server", service=self.service.name, package=self.package, extra_dirs=[DEBIAN_SCRIPTS]
        )

    def check(self) -> Binary:
        server = self._server()
        # .../rabbitmq_server-3.10.8/sbin/rabbitmq-server
        release = server.resolve().parent.parent.name
        version = release.partition("-")[2] if release.startswith("rabbitmq_server-") else ""
        return Binary(server, version)

    @property
    def node(self) -> str:
        digest = hashlib.sha256(str(self.home.root.resolve()).encode()).hexdigest()[:8]
        return f"sunup-{self.service.name}-{digest}@localhost"

    def vhosts(self) -> list[str]:
        return ["/", *(v for v in self.service.schemas if v != "/")]

    def definitions(self) -> dict[str, Any]:
        users = [e.name for e in self.service.endpoints]
        return {
            "users": [
                {
                    "name": name,
                    "password_hash": password_hash(self.password(name)),
                    "hashing_algorithm": "rabbit_password_hashing_sha256",
                    "tags": [],
                }
                for name in users
            ],
            "vhosts": [{"name": vhost} for vhost in self.vhosts()],
            "permissions": [
                {"user": name, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
                for name in users
                for vhost in self.vhosts()
            ],
        }

    async def initialise(self, state: ServiceState, progress: Progress) -> None:
        self.home.data.mkdir(mode=0o700, parents=True)

    def process(self, state: ServiceState) -> ServiceProcess:
        run = self.home.run
        dist = state.ports["dist"]
        write_atomically(run / "definitions.json", json.dumps(self.definitions(), indent=2), mode=0o600)
        write_atomically(
            run / "rabbitmq.conf",
            f"listeners.tcp.1 = {LOOPBACK}:{state.port}\n"
            "loopback_users = none\n"
            "definitions.import_backend = local_filesystem\n"
            f"definitions.local.path = {run / 'definitions.json'}\n",
        )
        write_atomically(run / "enabled_plugins", "[].\n")
        write_atomically(run / "rabbitmq-env.conf", "")
        env = server_env(
            self.home.root,
            RABBITMQ_CONF_ENV_FILE=str(run / "rabbitmq-env.conf"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_CONFIG_FILE=str(run / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(run / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(run / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.home.data / "mnesia"),
            RABBITMQ_LOG_BASE=str(run / "log"),
            RABBITMQ_LOGS="-",
            RABBITMQ_PID_FILE=str(run / "rabbitmq.pid"),
            RABBITMQ_DIST_PORT=str(dist),
            # exec the VM in the foreground (no wrapper shell), reading nothing from stdin.
            RABBITMQ_ALLOW_INPUT="true",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                f"-noinput -noshell -start_epmd false -erl_epmd_port {dist} "
                "-kernel inet_dist_use_interface {127,0,0,1}"
            ),
        )
        return ServiceProcess(self.service.name, (str(self._server()),), env, self.home.root, stop_timeout=60.0)

    async def ping(self, state: ServiceState) -> str | None:
        return await amqp_ping(LOOPBACK, state.port)

    def endpoint_credentials(self, state: ServiceState) -> dict[str, Credentials]:
        return {
            e.name: Credentials(LOOPBACK, state.port, e.name, self.password(e.name), e.path)
            for e in self.service.endpoints
        }
