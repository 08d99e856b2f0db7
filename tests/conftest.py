"""Shared test fixtures: where the shared corpus is, and small project builders."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.errors import SunupError
from sunup.supervisor.statedir import DEFAULT_STATE_DIR, StateDir, holder

REPO = Path(__file__).resolve().parent.parent
#: The corpus of real configurations lives beside the repository (../shared), never copied in.
SHARED = Path(os.environ.get("SUNUP_SHARED_DIR", REPO.parent / "shared"))
CORPUS = SHARED / "corpus" / "upsun-configs"
EXAMPLES = REPO / "examples"


#: Never part of a project's files: sunup's state folder (what a user's `sunup up` left in
#: examples/: builds, logs, service data, a live control socket), git's, Python's caches.
NOT_PROJECT_FILES = (DEFAULT_STATE_DIR, ".git", "__pycache__")


def copy_project(source: Path, target: Path) -> Path:
    """Copy the project files at `source` to `target` (which must not exist) and return `target`.

    Tests copy examples/ and corpus projects with this, never with a bare `copytree`: what a
    user's run left in the tree must not slow a test down, fail it, or change what it reads.
    """
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*NOT_PROJECT_FILES))
    return target


def project_maker(base: Path) -> Callable[..., Path]:
    """`make_project`, making its folders in `base`."""

    def make(files: dict[str, str], name: str = "project") -> Path:
        root = base / name
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return make


@pytest.fixture(scope="session")
def seed_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/workers, its project files only: tests that read the seed's state
    folder (local resource settings, the schema cache) see none a user's run left there."""
    return copy_project(EXAMPLES / "workers", tmp_path_factory.mktemp("seed") / "workers")


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Write files (relative path -> text) into a fresh project folder and return it."""
    return project_maker(tmp_path)


def _sunup_cgroups() -> set[Path]:
    """The top-level `sunup-*` cgroup folders beside this process's own cgroups (where sunup
    makes them), in every hierarchy."""
    found: set[Path] = set()
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, own = line.split(":", 2)
        names = [c for c in controllers.split(",") if c and not c.startswith("name=")] or ["unified"]
        for name in names:
            folder = Path("/sys/fs/cgroup", name, own.lstrip("/"))
            try:
                found.update(entry for entry in folder.iterdir() if entry.name.startswith("sunup-"))
            except OSError:
                continue
    return found


def _state_folders_of(tops: set[Path], base: Path) -> dict[Path, Path]:
    """Which of `tops` belong to a state folder under `base` (by the ledger's naming)."""
    from sunup.isolation.ledger import top_name

    names = {top.name: top for top in tops}
    owned: dict[Path, Path] = {}
    for folder, _, _ in os.walk(base):
        top = names.get(top_name(Path(folder)))
        if top is not None:
            owned[top] = Path(folder)
    return owned


@pytest.fixture(autouse=True)
def no_cgroup_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test leaves no top-level cgroup folder of a state folder under its own tmp_path (a
    module's shared supervisor, made elsewhere, is checked by its own fixture)."""
    base: Path | None = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    before = _sunup_cgroups()
    yield
    new = _sunup_cgroups() - before
    if not new or base is None:
        return
    leaked = _state_folders_of(new, base)
    for top in leaked:
        for child in sorted(top.rglob("*"), reverse=True):
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
    assert not leaked, "cgroups left behind: " + ", ".join(f"{t} (state {s})" for t, s in sorted(leaked.items()))


#: How much of a running supervisor's log a failed test's report shows.
SUPERVISOR_LOG_LINES = 120


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A test that failed while a supervisor of its own still runs (a `sunup up -d` that did not
    return, say): each such supervisor is asked for its threads' stacks (SIGUSR2, faulthandler),
    and the end of its log goes into the report. Rare timing failures in CI are then readable."""
    outcome = yield
    report = outcome.get_result()
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.when != "call" or not report.failed or not isinstance(tmp, Path):
        return
    for lock in sorted(tmp.rglob("supervisor.lock"))[:4]:
        with contextlib.suppress(OSError, SunupError):
            pid = holder(StateDir(lock.parent))  # only a supervisor that holds its lock now
            if pid is None or pid <= 0:
                continue
            os.kill(pid, signal.SIGUSR2)
            log = lock.parent / "supervisor.log"
            deadline = time.monotonic() + 2.0  # the dump is written by the supervisor itself
            while "most recent call first" not in log.read_text(errors="replace") and time.monotonic() < deadline:
                time.sleep(0.05)
            tail = log.read_text(errors="replace").splitlines()[-SUPERVISOR_LOG_LINES:]
            report.sections.append((f"supervisor {pid} still running: {log}", "\n".join(tail)))
