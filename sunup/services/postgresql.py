"""PostgreSQL: the machine's postgres on a port of its own, over TCP only (no socket in /run).

- Program: ``/usr/lib/postgresql/<N>/bin/postgres`` (the version in `type:` when installed, else
  the newest), or `postgres` on PATH.
- First start: ``initdb`` with the superuser ``sunup_admin`` (password from the project secret,
  scram-sha-256 for every connection).
- As root: postgres refuses to run as root, so sunup runs it (and initdb) as the unprivileged
  system user ``nobody`` through ``setpriv``; the data folder belongs to nobody, mode 0700, and
  every folder above it must be enterable by others (sunup checks and says which is not).
- Provision: databases, one role per endpoint with exactly its grants (`grants`).
- Stop: SIGINT, PostgreSQL's *fast* shutdown (clients disconnected, clean checkpoint). Its
  SIGTERM is a *smart* shutdown that waits for every client to leave, which could hold a stop.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.plan.relationships import Credentials
from sunup.services import grants
from sunup.services.binaries import Binary, find_program, version_of
from sunup.services.model import Progress, ServiceProcess, server_env
from sunup.services.probes import postgres_ping
from sunup.services.provider import ServerProvider
from sunup.services.secret import ADMIN_ENDPOINT
from sunup.services.state import LOOPBACK, ServiceState, save_state
from sunup.services.tools import run_tool

DEBIAN_ROOT = Path("/usr/lib/postgresql")
#: Who runs postgres when sunup runs as root.
ROOT_RUNS_AS = ("nobody", 65534, 65534)


def _major(folder: Path) -> float:
    try:
        return float(folder.name)
    except ValueError:
        return -1.0


class PostgresqlProvider(ServerProvider):
    engine = "postgresql"
    package = "postgresql"
    same_versions = frozenset({"postgresql"})
    ready_timeout = 60.0

    def _bin_dir(self) -> Path | None:
        if not DEBIAN_ROOT.is_dir():
            return None
        installed = sorted((d for d in DEBIAN_ROOT.iterdir() if (d / "bin" / "postgres").exists()), key=_major)
        wanted = [d for d in installed if d.name == self.service.version.split(".")[0]]
        chosen = wanted or installed[-1:]
        return chosen[0] / "bin" if chosen else None

    def program(self, name: str) -> Path:
        folder = self._bin_dir()
        return find_program(
            name, service=self.service.name, package=self.package, extra_dirs=[folder] if folder else []
        )

    def client(self) -> Path:
        return find_program("psql", service=self.service.name, package="postgresql-client")

    def check(self) -> Binary:
        server = self.program("postgres")
        self.program("initdb")
        self.client()
        return Binary(server, version_of([str(server), "--version"]))

    def _as_user(self) -> list[str]:
        """The argv prefix that drops root to the unprivileged user; nothing when not root."""
        if os.geteuid() != 0:
            return []
        _, uid, gid = ROOT_RUNS_AS
        return [
            str(find_program("setpriv", service=self.service.name, package="util-linux")),
            # Changing the ids clears the death signal the supervisor's child had: set it again
            # (setpriv sets it after the ids), or postgres outlives a SIGKILLed supervisor.
            "--pdeathsig",
            "KILL",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--",
        ]

    def _check_reachable(self) -> None:
        """As root: every folder above the data folder must let `nobody` through."""
        if os.geteuid() != 0:
            return
        user, uid, _ = ROOT_RUNS_AS
        for folder in [self.home.root, *self.home.root.parents]:
            info = folder.stat()
            if info.st_uid != uid and not info.st_mode & 0o001:
                raise RuntimeFailure(
                    f"service '{self.service.name}': PostgreSQL runs as '{user}' when sunup runs as root, "
                    f"and '{user}' cannot enter {folder} (mode {oct(info.st_mode & 0o777)})",
                    hint="keep sunup's state in a folder others may enter (SUNUP_STATE_DIR), "
                    "or run sunup as a regular user",
                )

    def _give_to_runner(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            _, uid, gid = ROOT_RUNS_AS
            for path in paths:
                os.chown(path, uid, gid)

    async def initialise(self, state: ServiceState, progress: Progress) -> None:
        self._check_reachable()
        self.home.root.chmod(0o755)
        self.home.data.mkdir(mode=0o700, parents=True)
        pwfile = self.home.run / "initdb.pw"
        # Mode 0600 from its creation on (never readable by others), gone once initdb has read it.
        write_atomically(pwfile, self.password(ADMIN_ENDPOINT) + "\n", mode=0o600, durable=False)
        self._give_to_runner(self.home.data, pwfile)
        try:
            await run_tool(
                [
                    *self._as_user(),
                    str(self.program("initdb")),
                    f"--pgdata={self.home.data}",
                    f"--username={ADMIN_ENDPOINT}",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                service=self.service.name,
                what="initialising the PostgreSQL data folder",
                env=server_env(self.home.root),
                timeout=180,
                cwd=Path("/"),
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def process(self, state: ServiceState) -> ServiceProcess:
        self._check_reachable()
        argv = (
            *self._as_user(),
            str(self.program("postgres")),
            "-D",
            str(self.home.data),
            "-p",
            str(state.port),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "logging_collector=off",
        )
        return ServiceProcess(
            self.service.name, argv, server_env(self.home.root), Path("/"), stop_signal=signal.SIGINT, stop_timeout=60.0
        )

    async def ping(self, state: ServiceState) -> str | None:
        return await postgres_ping(LOOPBACK, state.port, ADMIN_ENDPOINT)

    def endpoint_credentials(self, state: ServiceState) -> dict[str, Credentials]:
        return self.sql_credentials(state)

    async def provision(self) -> Mapping[str, Credentials]:
        state = self.require_state()
        names = [e.name for e in self.service.endpoints]
        removed = [name for name in state.endpoints if name not in names]
        passwords = {n: self.password(n) for n in names}
        script = grants.psql_script(grants.postgres_server_statements(self.service, passwords, removed))
        for database in self.service.schemas:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", database):
                raise RuntimeFailure(f"service '{self.service.name}': unusable database name {database!r}")
            script += f'\\connect "{database}"\n'
            script += grants.psql_script(grants.postgres_database_statements(self.service, database))
        await run_tool(
            [
                str(self.client()),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                LOOPBACK,
                "-p",
                str(state.port),
                "-U",
                ADMIN_ENDPOINT,
                "-d",
                "postgres",
            ],
            service=self.service.name,
            what="creating databases and endpoint roles",
            env=server_env(self.home.root, PGPASSWORD=self.password(ADMIN_ENDPOINT)),
            stdin=script,
            timeout=60,
        )
        save_state(self.home, state.evolve(endpoints=tuple(names)))
        return self.endpoint_credentials(state)


def client_command(
    client: Path, credentials: Credentials, extra: tuple[str, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """`psql` connected as `credentials` (the password in PGPASSWORD, not on the command line)."""
    argv = [str(client), "-h", credentials.host, "-p", str(credentials.port), "-U", credentials.username or ""]
    if credentials.path:
        argv += ["-d", credentials.path]
    return argv + list(extra), {"PGPASSWORD": credentials.password or ""}
