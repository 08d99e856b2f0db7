"""Damaged state files: every file sunup keeps in `.sunup/`, emptied, cut, filled with garbage
bytes or given wrong JSON types, then the commands that read it.

A damaged file never gives a traceback: either sunup recovers (it rebuilds a cache, rewrites the
file, or falls back to defaults) and the project runs, or the command fails naming the file and
what to do, and nothing is left half started. `test_every_state_file_is_covered` lists the state
folder of a project that ran, so a new state file without a case here is noticed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import Project, processes_under, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)"
)

#: `composable` builds nothing; one Redis service, a deploy hook, a worker: every state file there is.
CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      store: "store:redis"
    hooks:
      deploy: "echo deployed"
    web:
      commands:
        start: "echo web up; exec sleep 36051"
    workers:
      chatty:
        commands:
          start: "echo chatty up; exec sleep 36052"
services:
  store:
    type: redis:7.0
"""


def emptied(_: bytes) -> bytes:
    return b""


def cut(original: bytes) -> bytes:
    """Half the file: what a writer killed in the middle (or a full disk) would leave."""
    return original[: len(original) // 2]


def garbage(_: bytes) -> bytes:
    return b"\xff\xfe\x00\x9cgarbage\x00\n" * 3


def retyped(original: bytes) -> bytes:
    """The same JSON shape with every value of another type (a list for a scalar, text for a list)."""

    def other(value: Any) -> Any:
        return "text" if isinstance(value, dict | list) else [value]

    data = json.loads(original)
    flipped = {key: other(value) for key, value in data.items()} if isinstance(data, dict) else {"0": data}
    return json.dumps(flipped).encode()


TEXT = (emptied, garbage)
JSON = (emptied, cut, garbage, retyped)
#: Logs are read as they are: garbage in them is shown, never parsed.
LOG = (garbage,)


@dataclass(frozen=True)
class StateFile:
    """A file of the state folder: how to damage it, and what sunup does then."""

    pattern: str
    kinds: tuple[Callable[[bytes], bytes], ...]
    #: None: sunup recovers; otherwise what the refusal says (besides the file's path).
    refusal: str | None = None
    #: Damaged while the supervisor runs (the lock), not before `up`.
    while_running: bool = False
    #: Commands that read the file besides `up -d` and `ps`.
    readers: tuple[tuple[str, ...], ...] = ()
    #: Rewritten whole by `up` (compared with the good copy afterwards).
    rewritten: bool = False


FILES = (
    StateFile("supervisor.lock", TEXT, while_running=True),
    StateFile(".gitignore", TEXT),
    #: Never the defaults in its place: `resources:set` would write them over the user's settings.
    StateFile(
        "resources.json",
        JSON,
        refusal="or remove it",
        readers=(("resources",), ("resources:set", "--count", "chatty:2")),
    ),
    StateFile("deployed.json", JSON),
    StateFile("isolation.json", JSON),
    StateFile("schema-valid", TEXT, readers=(("config", "--json"),)),
    StateFile("services/*/service.json", JSON, refusal="remove the file", readers=(("services",),)),
    StateFile("services/*/initialised", TEXT, readers=(("services",),)),
    StateFile("builds/*/*/.complete.json", JSON),
    StateFile("bin/sv", TEXT, rewritten=True),
    StateFile("bin/systemctl", TEXT, rewritten=True),
    StateFile("run/peers/*/*.json", JSON, rewritten=True),
    StateFile("helpers/sunup-enter-*", TEXT, rewritten=True),
    StateFile("logs/*/web.0/app.log", LOG, readers=(("logs", "-n", "3"),)),
    StateFile("logs/*/web.0/deploy.log", LOG, readers=(("logs", "deploy", "-n", "3"),)),
    StateFile("logs/*/build.log", LOG, readers=(("logs", "build", "-n", "3"),)),
    StateFile("supervisor.log", LOG),
    #: Never other ports in its place: the project's URLs would move without a word.
    StateFile(
        "router.json", JSON, refusal="remove it to choose the router's ports anew", readers=(("routes",), ("url",))
    ),
    StateFile("router/nginx.conf", TEXT),  # made anew at each start (the web ports change)
    StateFile("router/tls/cert.pem", TEXT),
    StateFile("router/tls/key.pem", TEXT),
    #: The record of the last certificate check: damaged, the certificate is checked in full again.
    StateFile("router/tls/checked.json", JSON),
    StateFile("logs/router/access.log", LOG),
    StateFile("logs/router/error.log", LOG),
)

#: Files that are not sunup's state, with the reason no case damages them.
NOT_STATE = {
    "services/*/data/*": "the server's own data (a damaged data folder is tests/faults/test_service_faults.py's)",
    "services/*/server.log": "the server's own log, written by the server",
    "services/*/run/*": "the server's own runtime files (pid file, sockets)",
    "builds/*/*/app/*": "the application's code, copied from the project",
    "control.sock": "a socket, made again by every supervisor (a file in its place is one case)",
    "logs/*/*/app.log": "each instance's log, read as web.0's is",
    "logs/router/nginx.log": "nginx's own output (it writes to error.log)",
    "router/nginx.pid": "nginx's own pid file, written by nginx at each start",
    "router/*.sock": "sockets, made again by every supervisor (the hold server's, the app servers')",
    "router/temp/*": "nginx's own temporary files",
    "router/cache/*": "nginx's own cache of responses",
}


def relative_files(state: Path) -> list[str]:
    return sorted(str(p.relative_to(state)) for p in state.rglob("*") if not p.is_dir())


@contextlib.contextmanager
def ran_once(folder: Path, config: str, *commands: tuple[str, ...]) -> Iterator[Path]:
    """A project at `folder/project` that ran `up -d`, then `commands`, then `down`: its state
    folder is kept aside in `folder/good`; the project is cleaned up at the end."""
    root = folder / "project"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(config)
    project = Project(root)
    try:
        for args in (("up", "-d", "--settle", "0"), *commands, ("down",)):
            result = project(*args)
            assert result.returncode == 0, result.stderr
        shutil.copytree(root / ".sunup", folder / "good", symlinks=True)
        yield root
    finally:
        project.cleanup()


def restored(golden: Path) -> Iterator[Project]:
    """The project that `ran_once` with its good state folder back; cleaned up afterwards."""
    shutil.rmtree(golden / ".sunup", ignore_errors=True)
    shutil.copytree(golden.parent / "good", golden / ".sunup", symlinks=True)
    project = Project(golden)
    yield project
    project.cleanup()


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project that ran once (`up -d`, `resources:set`, `down`): its state folder, kept aside."""
    with ran_once(tmp_path_factory.mktemp("state-files"), CONFIG, ("resources:set", "--count", "chatty:1")) as root:
        yield root


@pytest.fixture
def project(golden: Path) -> Iterator[Project]:
    """The golden project with its good state folder back; stopped and cleaned up afterwards."""
    yield from restored(golden)


def damage(path: Path, kind: Callable[[bytes], bytes]) -> bytes:
    """Write the damaged content in place (the same file, as a disk or an editor would leave it)."""
    original = path.read_bytes()
    with path.open("r+b") as file:
        file.truncate(0)
        file.write(kind(original))
    return original


def assert_no_traceback(project: Project, *outputs: str) -> None:
    log = project.state.supervisor_log
    texts = [*outputs, log.read_text(errors="replace") if log.exists() else ""]
    for text in texts:
        assert "Traceback" not in text and "the supervisor failed" not in text, text


def running_command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def assert_runs(project: Project) -> None:
    """Both instances run their start command (not merely spawned: their pid is the `sleep`)."""
    ps = project("ps", "--json")
    assert ps.returncode == 0, ps.stderr
    rows = {row["name"]: row for row in json.loads(ps.stdout)}
    assert {name: row["state"] for name, row in rows.items()} == {"web.0": "running", "chatty.0": "running"}, rows
    for name, row in rows.items():
        wait_for(lambda: running_command(row["pid"]).startswith(b"sleep\x00360"), f"{name} to run its sleep")  # noqa: B023


CASES = [pytest.param(f, kind, id=f"{f.pattern}-{kind.__name__}") for f in FILES for kind in f.kinds]


@pytest.mark.slow
@pytest.mark.parametrize(("state_file", "kind"), CASES)
def test_damaged_state_file(project: Project, state_file: StateFile, kind: Callable[[bytes], bytes]) -> None:
    """A damaged state file is recovered from, or refused with its name and a hint; never a traceback."""
    if state_file.while_running:
        up = project("up", "-d", "--settle", "0")
        assert up.returncode == 0, up.stderr
    path = sorted(project.state.root.glob(state_file.pattern))[0]
    original = damage(path, kind)
    damaged = path.read_bytes()
    outputs: list[str] = []
    for reader in state_file.readers:
        process = project.start(*reader)  # its output may be any bytes: read back with replacements
        status = process.wait(timeout=60)
        said = project.output(process)
        outputs.append(said)
        if state_file.refusal is None:
            assert status == 0, said
        else:
            assert status == 1, said
            assert str(path) in said and state_file.refusal in said, said
    up = project("up", "-d", "--settle", "0")
    outputs += [up.stdout, up.stderr]
    assert_no_traceback(project, *outputs)
    if state_file.refusal is not None:
        assert up.returncode == 1
        assert str(path) in up.stderr and state_file.refusal in up.stderr, up.stderr
        assert path.read_bytes() == damaged, "a refused file is left as it was, for the user to look at"
        assert project.supervisor() is None, "a refused `up` leaves no supervisor"
        assert processes_under(project.root) == [], "a refused `up` leaves nothing running"
        path.unlink()  # the hint: remove the file; then it works
        again = project("up", "-d", "--settle", "0")
        assert again.returncode == 0, again.stderr
        assert_runs(project)
        return
    if state_file.while_running:
        assert up.returncode == 1 and "already running" in up.stderr, up.stderr
    else:
        assert up.returncode == 0, up.stderr
    assert_runs(project)
    if state_file.rewritten:
        assert path.read_bytes() == original, f"{path} was not written again whole"
    down = project("down")
    assert down.returncode == 0, down.stderr
    assert_no_traceback(project, down.stdout, down.stderr)


@pytest.mark.slow
def test_a_file_in_place_of_the_control_socket(project: Project) -> None:
    """A regular file where the control socket goes is replaced by the next supervisor's socket."""
    project.state.socket.write_bytes(garbage(b""))
    up = project("up", "-d", "--settle", "0")
    assert up.returncode == 0, up.stderr
    assert_no_traceback(project, up.stdout, up.stderr)
    assert_runs(project)


def test_every_state_file_is_covered(golden: Path) -> None:
    """Every file a project that ran leaves in its state folder has a case here, or a reason not to."""
    state = golden.parent / "good"
    patterns = [f.pattern for f in FILES] + list(NOT_STATE)
    uncovered = [name for name in relative_files(state) if not any(fnmatch.fnmatch(name, p) for p in patterns)]
    assert uncovered == [], f"state files without a damaged-file case in {__file__}: {uncovered}"
    unused = [f.pattern for f in FILES if not list(state.glob(f.pattern))]
    assert unused == [], f"cases for files a project no longer has: {unused}"
