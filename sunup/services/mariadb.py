"""MariaDB (also the `mysql` and `oracle-mysql` types): the machine's mariadbd on a port of its own.

- First start: ``mariadb-install-db --no-defaults`` into ``<home>/data`` (never /etc/mysql's
  settings, never /var/lib/mysql).
- Server: ``mariadbd --no-defaults`` bound to 127.0.0.1, its socket and pid file in ``<home>/run``,
  logging to stderr. As root it needs ``--user=root``; otherwise it runs as the invoking user.
- sunup's own account, ``sunup_admin@127.0.0.1``, is (re)created at every start by an
  ``--init-file`` with a password derived from the project secret; apps never get it.
- Provision: schemas and one user per endpoint with exactly its privileges (`grants`).
- Stop: SIGTERM, MariaDB's normal shutdown (InnoDB flushed, clean restart without recovery).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.plan.relationships import Credentials
from sunup.services import grants
from sunup.services.binaries import Binary, find_program, version_of
from sunup.services.model import Progress, ServiceProcess, server_env
from sunup.services.probes import mysql_ping
from sunup.services.provider import ServerProvider
from sunup.services.secret import ADMIN_ENDPOINT
from sunup.services.state import LOOPBACK, ServiceState, save_state
from sunup.services.tools import run_tool

#: Unix socket paths longer than this do not fit in sockaddr_un.
MAX_SOCKET_PATH = 100


class MariadbProvider(ServerProvider):
    engine = "mariadb"
    package = "mariadb-server"
    same_versions = frozenset({"mariadb"})
    ready_timeout = 60.0

    def _server(self) -> Path:
        try:
            return find_program("mariadbd", service=self.service.name, package=self.package)
        except RuntimeFailure:
            return find_program("mysqld", service=self.service.name, package=self.package)

    def client(self) -> Path:
        return find_program("mariadb", service=self.service.name, package="mariadb-client")

    def check(self) -> Binary:
        server = self._server()
        find_program("mariadb-install-db", service=self.service.name, package=self.package)
        self.client()
        return Binary(server, version_of([str(server), "--version"], r"Ver (\d+\.\d+\.\d+)"))

    def _root_args(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def socket_path(self) -> Path:
        path = self.home.run / "mysqld.sock"
        if len(str(path)) <= MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"sunup-mariadb-{digest}.sock"

    async def initialise(self, state: ServiceState, progress: Progress) -> None:
        install_db = find_program("mariadb-install-db", service=self.service.name, package=self.package)
        self.home.data.mkdir(mode=0o700, parents=True)
        await run_tool(
            [
                str(install_db),
                "--no-defaults",
                f"--datadir={self.home.data}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                *self._root_args(),
            ],
            service=self.service.name,
            what="initialising the MariaDB data folder",
            env=server_env(self.home.root),
            timeout=180,
        )

    def process(self, state: ServiceState) -> ServiceProcess:
        password = grants.sql_string(self.password(ADMIN_ENDPOINT))
        admin = f"'{ADMIN_ENDPOINT}'@'{LOOPBACK}'"
        init = self.home.run / "init.sql"
        write_atomically(
            init,
            f"CREATE USER IF NOT EXISTS {admin} IDENTIFIED BY {password};\n"
            f"ALTER USER {admin} IDENTIFIED BY {password};\n"
            f"GRANT ALL PRIVILEGES ON *.* TO {admin} WITH GRANT OPTION;\n",
            mode=0o600,
        )
        argv = (
            str(self._server()),
            "--no-defaults",
            f"--datadir={self.home.data}",
            f"--port={state.port}",
            f"--bind-address={LOOPBACK}",
            f"--socket={self.socket_path()}",
            f"--pid-file={self.home.run / 'mysqld.pid'}",
            f"--init-file={init}",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            *self._root_args(),
        )
        return ServiceProcess(self.service.name, argv, server_env(self.home.root), self.home.root, stop_timeout=60.0)

    async def ping(self, state: ServiceState) -> str | None:
        return await mysql_ping(LOOPBACK, state.port)

    def endpoint_credentials(self, state: ServiceState) -> dict[str, Credentials]:
        return self.sql_credentials(state)

    async def provision(self) -> Mapping[str, Credentials]:
        state = self.require_state()
        names = [e.name for e in self.service.endpoints]
        removed = [name for name in state.endpoints if name not in names]
        statements = grants.mariadb_statements(self.service, {n: self.password(n) for n in names}, removed)
        await run_tool(
            [
                str(self.client()),
                "--no-defaults",
                "--protocol=TCP",
                f"--host={LOOPBACK}",
                f"--port={state.port}",
                f"--user={ADMIN_ENDPOINT}",
                "--batch",
            ],
            service=self.service.name,
            what="creating schemas and endpoint users",
            env=server_env(self.home.root, MYSQL_PWD=self.password(ADMIN_ENDPOINT)),
            stdin="".join(f"{s};\n" for s in statements),
            timeout=60,
        )
        save_state(self.home, state.evolve(endpoints=tuple(names)))
        return self.endpoint_credentials(state)


def client_command(
    client: Path, credentials: Credentials, extra: tuple[str, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """`mariadb` connected as `credentials` (the password in MYSQL_PWD, not on the command line)."""
    argv = [
        str(client),
        "--no-defaults",
        "--protocol=TCP",
        f"--host={credentials.host}",
        f"--port={credentials.port}",
        f"--user={credentials.username}",
    ]
    if credentials.path:
        argv.append(f"--database={credentials.path}")
    return argv + list(extra), {"MYSQL_PWD": credentials.password or ""}
