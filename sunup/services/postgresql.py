"""PostgreSQL: the machine's postgres on a port of its own, over TCP only (no socket in /run).

- Program: ``/usr/lib/postgresql/<N>/bin/postgres`` (the version in `type:` when installed, else
  the newest), or `postgres` on PATH.
- First start: ``initdb`` with the superuser ``sunup_admin`` (password from the project secret,
  scram-sha-256 for every connection).
- As root: postgres refuses to run as root, so sunup runs it (and initdb) as the unprivileged
  system user ``nobody`` through ``setpriv``; the data folder belongs to nobody, mode 0700.
  When a folder above the service's folder does not let others through (a project under /root,
  or in a 0700 folder that `mktemp -d` made), postgres and initdb run in a mount namespace of
  their own (``unshare --mount``) where the service's folder is bound onto a reachable mount
  point, ``/run/sunup/postgresql/<digest of its path>`` (root's, 0755, left empty on the host):
  the data stays in the state folder, moves and goes with it, and no folder of the user's is
  opened to others. Where mount namespaces are refused (a container without CAP_SYS_ADMIN),
  the folder that stops `nobody` is named, as before.
- Provision: databases, one role per endpoint with exactly its grants (`grants`).
- Stop: SIGINT, PostgreSQL's *fast* shutdown (clients disconnected, clean checkpoint). Its
  SIGTERM is a *smart* shutdown that waits for every client to leave, which could hold a stop.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import signal
import subprocess
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
#: Where a service folder that `nobody` cannot reach is bound, in postgres's mount namespace.
MOUNT_POINTS = Path("/run/sunup/postgresql")
#: Binds the service folder ($1) on the mount point ($2), then runs the rest as the server.
_BIND = 'mount --bind -- "$1" "$2" && shift 2 && exec "$@"'


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

    def _blocking_folder(self) -> Path | None:
        """As root: the first folder above the service's folder that `nobody` cannot enter."""
        if os.geteuid() != 0:
            return None
        _, uid, _ = ROOT_RUNS_AS
        for folder in reversed(self.home.root.resolve().parents):
            info = folder.stat()
            if info.st_uid != uid and not info.st_mode & 0o001:
                return folder
        return None

    def _mount_point(self) -> Path | None:
        """Where postgres sees the service's folder: None when it sees it where it is, else
        the mount point it is bound on in postgres's mount namespace (`_in_namespace`).
        `RuntimeFailure` naming the folder when it is unreachable and no namespace can be made."""
        folder = self._blocking_folder()
        if folder is None:
            return None
        refused = _namespaces_refused()
        if refused is not None:
            user = ROOT_RUNS_AS[0]
            mode = oct(folder.stat().st_mode & 0o777)
            raise RuntimeFailure(
                f"service '{self.service.name}': PostgreSQL runs as '{user}' when sunup runs as root, "
                f"and '{user}' cannot enter {folder} (mode {mode}); it cannot be given a mount namespace "
                f"either ({refused})",
                hint="keep sunup's state in a folder others may enter (SUNUP_STATE_DIR), "
                "or run sunup as a regular user",
            )
        digest = hashlib.sha256(str(self.home.root.resolve()).encode()).hexdigest()[:16]
        point = MOUNT_POINTS / digest
        point.mkdir(mode=0o755, parents=True, exist_ok=True)
        for made in (point, *[p for p in point.parents if p.is_relative_to(MOUNT_POINTS.parent)]):
            made.chmod(0o755)
        return point

    def _in_namespace(self, point: Path | None) -> list[str]:
        """The argv prefix that binds the service's folder on `point` in a mount namespace of
        its own, then runs the rest (nothing when `point` is None)."""
        if point is None:
            return []
        unshare = find_program("unshare", service=self.service.name, package="util-linux")
        bind = ["/bin/sh", "-c", _BIND, "sunup-postgresql", str(self.home.root), str(point)]
        return [str(unshare), "--mount", "--propagation", "private", "--", *bind]

    def _give_to_runner(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            _, uid, gid = ROOT_RUNS_AS
            for path in paths:
                os.chown(path, uid, gid)

    async def initialise(self, state: ServiceState, progress: Progress) -> None:
        point = self._mount_point()
        seen = point or self.home.root  # the service's folder, where initdb sees it
        self.home.root.chmod(0o755)
        self.home.data.mkdir(mode=0o700, parents=True)
        pwfile = self.home.run / "initdb.pw"
        # Mode 0600 from its creation on (never readable by others), gone once initdb has read it.
        write_atomically(pwfile, self.password(ADMIN_ENDPOINT) + "\n", mode=0o600, durable=False)
        self._give_to_runner(self.home.data, pwfile)
        try:
            await run_tool(
                [
                    *self._in_namespace(point),
                    *self._as_user(),
                    str(self.program("initdb")),
                    f"--pgdata={seen / self.home.data.name}",
                    f"--username={ADMIN_ENDPOINT}",
                    f"--pwfile={seen / self.home.run.name / pwfile.name}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                service=self.service.name,
                what="initialising the PostgreSQL data folder",
                env=server_env(seen),
                timeout=180,
                cwd=Path("/"),
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def process(self, state: ServiceState) -> ServiceProcess:
        point = self._mount_point()
        seen = point or self.home.root
        argv = (
            *self._in_namespace(point),
            *self._as_user(),
            str(self.program("postgres")),
            "-D",
            str(seen / self.home.data.name),
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
            self.service.name, argv, server_env(seen), Path("/"), stop_signal=signal.SIGINT, stop_timeout=60.0
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


@functools.cache
def _namespaces_refused() -> str | None:
    """None when this process may give a child a mount namespace with a bind mount in it (tried
    once: `unshare --mount` binding / on itself), else why not."""
    try:
        result = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--", "mount", "--bind", "/", "/"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if result.returncode != 0:
        return result.stderr.decode(errors="replace").strip() or f"unshare exited with status {result.returncode}"
    return None


def client_command(
    client: Path, credentials: Credentials, extra: tuple[str, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """`psql` connected as `credentials` (the password in PGPASSWORD, not on the command line)."""
    argv = [str(client), "-h", credentials.host, "-p", str(credentials.port), "-U", credentials.username or ""]
    if credentials.path:
        argv += ["-d", credentials.path]
    return argv + list(extra), {"PGPASSWORD": credentials.password or ""}
