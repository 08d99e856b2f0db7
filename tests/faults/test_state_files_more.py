"""More state files under faults: a full disk while each is written, and damaged ones read back.

- `isolation.json` (where the project's cgroups are): written whole; a place that cannot be
  recorded at start is a clear refusal naming the file, a place that cannot be forgotten at a
  cleanup on a full disk is a warning and the cleanup goes on.
- a build's `.complete.json`: a build on a full disk fails naming it, and leaves no part of one;
  `sunup up -d` then says so without "the supervisor failed", `sunup deploy` without stopping the
  running release.
- `services/.secret` (every service password comes from it): a full disk leaves none (never an
  empty one that would silently give other passwords), a damaged one is refused naming it.
- `resources.json` (`tests/faults/test_state_files.py` has its damaged-file cases): refused,
  never read as the defaults that `resources:set` would then write over the user's settings;
  two `resources:set` at once keep both changes.
- a view's record (`views/<app>/<instance>.json`, without mount namespaces): damaged, the view
  is made again and the instance runs.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.build.builder import build_app
from sunup.config import read_config
from sunup.errors import RuntimeFailure
from sunup.isolation import open_isolation
from sunup.isolation.contract import CGROUP_V1
from sunup.isolation.ledger import Ledger
from sunup.localsettings import read_settings, write_settings
from sunup.plan.resolve import HostFacts, resolve_project
from sunup.plan.resources import ResourceSetting
from sunup.services.secret import SECRET_FILE, project_secret
from tests.faults.conftest import Project, processes_under, wait_for
from tests.faults.test_disk_full import fill, tmpfs
from tests.faults.test_state_files import (
    FILES,
    JSON,
    NOT_STATE,
    assert_no_traceback,
    cut,
    damage,
    emptied,
    garbage,
    ran_once,
    relative_files,
    restored,
    running_command,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: needs root")


def leftovers(folder: Path, name: str) -> list[str]:
    """Temporary files beside `name` (what a writer that failed half way leaves)."""
    return sorted(p.name for p in folder.iterdir() if p.name != name and name in p.name)


@needs_root
def test_ledger_on_a_full_disk(tmp_path: Path) -> None:
    """A place that cannot be recorded is refused naming isolation.json; one that cannot be
    forgotten is only said; the file stays whole and nothing is left beside it."""
    problems: list[str] = []
    with tmpfs(tmp_path / "disk", "64k") as disk:
        ledger = Ledger(disk / "isolation.json", problem=problems.append)
        first = {"cpu": Path("/sys/fs/cgroup/cpu/sunup-a")}
        ledger.record(CGROUP_V1, first)
        good = ledger.path.read_bytes()
        filler = fill(disk)
        with pytest.raises(RuntimeFailure) as refused:
            ledger.record(CGROUP_V1, {"cpu": Path("/sys/fs/cgroup/cpu/sunup-b")})
        assert str(ledger.path) in refused.value.message and "No space left" in refused.value.message
        ledger.forget(CGROUP_V1, first)  # a cleanup on a full disk: no exception
        assert len(problems) == 1 and str(ledger.path) in problems[0] and "No space left" in problems[0], problems
        assert ledger.path.read_bytes() == good, "the file is left as it was"
        assert leftovers(disk, "isolation.json") == []
        filler.unlink()
        ledger.forget(CGROUP_V1, first)  # room again: the next cleanup forgets it
        assert ledger.places(CGROUP_V1) == []


@pytest.fixture
def cgroup_v1_on_small_disk(tmp_path: Path) -> Iterator[Path]:
    """A state folder on a small tmpfs; whatever groups a test left there are removed after it."""
    if not Path("/sys/fs/cgroup/cpu").is_dir():
        pytest.skip("needs the cgroup v1 cpu hierarchy")
    with tmpfs(tmp_path / "state", "64k") as state:
        try:
            yield state
        finally:
            for filler in state.glob("filler-*"):
                filler.unlink()
            isolation = open_isolation(state, backend=CGROUP_V1)
            isolation.clear_stale()
            isolation.close()


@needs_root
def test_isolation_closes_on_a_full_disk(cgroup_v1_on_small_disk: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The supervisor's last cleanup (removing its cgroups) on a full disk removes them, warns
    that isolation.json still lists them, and does not fail; the next run forgets them."""
    state = cgroup_v1_on_small_disk
    isolation = open_isolation(state, backend=CGROUP_V1)
    group = isolation.prepare("web.0")
    group.remove()
    tops = [Path(p) for p in isolation.location.split(", ")]
    assert all(top.is_dir() for top in tops)
    filler = fill(state)
    isolation.close()
    assert not any(top.exists() for top in tops), "the groups are removed all the same"
    warning = capfd.readouterr().err
    assert f"cannot update {state / 'isolation.json'}: No space left on device" in warning, warning
    filler.unlink()
    again = open_isolation(state, backend=CGROUP_V1)
    assert again.clear_stale() == []
    again.close()
    assert json.loads((state / "isolation.json").read_text()) == {"groups": {CGROUP_V1: []}}


BUILD_CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    hooks:
      build: "if [ -e {flag} ]; then head -c 50000000 /dev/zero > filler 2>/dev/null; fi; true"
    web:
      commands:
        start: "exec sleep 36070"
"""


@needs_root
def test_a_build_on_a_full_disk(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A build whose hook filled the disk fails naming `.complete.json` and leaves no part of
    one (the build is not taken as complete); with room again, it is built anew."""
    flag = tmp_path / "fill-the-disk"
    flag.touch()
    root = make_project({".upsun/config.yaml": BUILD_CONFIG.format(flag=flag)})
    app = resolve_project(read_config(root), HostFacts.for_project(root)).apps[0]
    with tmpfs(tmp_path / "builds", "4m") as builds:

        def build() -> Path:
            result = build_app(
                app, project_root=root, builds_dir=builds, log_path=tmp_path / "build.log", variables={}, project="p1"
            )
            return result.app_dir

        with pytest.raises(OSError) as full:
            build()
        assert full.value.errno == errno.ENOSPC
        [target] = builds.iterdir()
        assert full.value.filename == str(target / ".complete.json")
        assert leftovers(target, ".complete.json") == [] and not (target / ".complete.json").exists()
        flag.unlink()
        app_dir = build()  # not taken as complete: the unfinished folder is removed, built again
        assert not (app_dir / "filler").exists()
        assert json.loads((app_dir.parent / ".complete.json").read_text())["tree_id"] == target.name


@needs_root
def test_the_secret_on_a_full_disk(tmp_path: Path) -> None:
    """On a full disk the secret is not made (no empty file that would give other passwords at
    the next start), the error names it; with room, it is made and kept."""
    with tmpfs(tmp_path / "services", "64k") as services:
        filler = fill(services)
        with pytest.raises(OSError) as full:
            project_secret(services)
        assert full.value.errno == errno.ENOSPC and full.value.filename == str(services / SECRET_FILE)
        assert sorted(p.name for p in services.iterdir()) == [filler.name], "nothing left beside it"
        filler.unlink()
        secret = project_secret(services)
        assert project_secret(services) == secret and len(secret) == 32
        assert (services / SECRET_FILE).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("kind", [emptied, cut, garbage], ids=lambda kind: kind.__name__)
def test_a_damaged_secret_is_refused(tmp_path: Path, kind: Callable[[bytes], bytes]) -> None:
    """A damaged secret is an error naming it (its passwords cannot be made again), never
    a traceback nor an empty secret, and the file is left for the user to put back."""
    path = tmp_path / SECRET_FILE
    project_secret(tmp_path)
    damage(path, kind)
    damaged = path.read_bytes()
    with pytest.raises(RuntimeFailure) as refused:
        project_secret(tmp_path)
    assert str(path) in refused.value.message and "damaged" in refused.value.message
    assert refused.value.hint is not None and "remove it" in refused.value.hint
    assert path.read_bytes() == damaged


@pytest.mark.parametrize(
    "content",
    [
        '{"app:web": {"count": NaN}}',
        '{"app:web": {"count": 1.5}}',
        '{"app:web": {"cpu": "1"}}',
        '{"app:web": {"count": true}}',
        '{"app:web": [2]}',
        "[]",
        "{",
    ],
)
def test_damaged_resource_settings_name_the_file(tmp_path: Path, content: str) -> None:
    """Settings that `resources:set` would not write are an error naming the file, with the way
    out; never the defaults in their place (nor a traceback for NaN)."""
    (tmp_path / "resources.json").write_text(content)
    with pytest.raises(RuntimeFailure) as refused:
        read_settings(tmp_path)
    assert str(tmp_path / "resources.json") in refused.value.message
    assert refused.value.hint == "fix the file, or remove it to go back to the default sizes and counts"


def test_good_resource_settings_are_read(tmp_path: Path) -> None:
    """What `resources:set` writes reads back; no file means no settings."""
    assert read_settings(tmp_path) == {}
    (tmp_path / "resources.json").write_text('{"app:web": {"cpu": 0.5, "count": 2}, "app:q": {"memory_mb": 448}}')
    settings = read_settings(tmp_path)
    assert (settings["app:web"].cpu, settings["app:web"].count, settings["app:q"].memory_mb) == (0.5, 2, 448)


#: A storage mount (a view, without mount namespaces) and a Redis service (its `initialised`).
VIEW_CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      store: "store:redis"
    mounts:
      uploads: {source: storage}
    web:
      commands:
        start: "echo web up; exec sleep 36071"
services:
  store:
    type: redis:7.0
"""

VIEW_RECORD = "views/app/web.0.json"
#: Files of the projects here that `tests/faults/test_state_files.py` has no case for, and why.
MORE_FILES = {
    VIEW_RECORD: "test_a_damaged_view_record",
    "views/app/web.0/*": "the view's symbolic links, made again with the record",
    f"services/{SECRET_FILE}": "test_a_damaged_secret_is_refused, test_up_with_a_damaged_secret",
}


def uncovered(good: Path) -> list[str]:
    """The files of a state folder kept aside by `ran_once` that no case damages."""
    patterns = [f.pattern for f in FILES] + list(NOT_STATE) + list(MORE_FILES)
    return [name for name in relative_files(good) if not any(fnmatch.fnmatch(name, p) for p in patterns)]


needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.fixture(scope="module")
def view_golden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project run once without mount namespaces (so web.0 runs in a view): its state kept aside."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SUNUP_NAMESPACES", "none")
        with ran_once(tmp_path_factory.mktemp("view-state"), VIEW_CONFIG) as root:
            yield root


@pytest.fixture
def view_project(view_golden: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """The view project with its good state back, without namespaces; cleaned up afterwards."""
    monkeypatch.setenv("SUNUP_NAMESPACES", "none")
    yield from restored(view_golden)


@needs_redis
@pytest.mark.parametrize("kind", JSON, ids=lambda kind: kind.__name__)
def test_a_damaged_view_record(view_project: Project, kind: Callable[[bytes], bytes]) -> None:
    """A damaged view record (garbage bytes too) makes the view again: web.0 runs in it, and the
    record is written whole again; never a traceback."""
    record = view_project.state.root / VIEW_RECORD
    original = damage(record, kind)
    up = view_project("up", "-d", "--settle", "0")
    assert up.returncode == 0, up.stderr
    ps = view_project("ps", "--json")
    assert ps.returncode == 0, ps.stderr
    [row] = json.loads(ps.stdout)
    assert (row["name"], row["state"]) == ("web.0", "running"), row
    wait_for(lambda: running_command(row["pid"]).startswith(b"sleep\x0036071"), "web.0 to run its sleep")
    assert os.readlink(f"/proc/{row['pid']}/cwd") == str(record.with_suffix("")), "web.0 runs in its view"
    assert record.read_bytes() == original
    down = view_project("down")
    assert down.returncode == 0, down.stderr
    assert_no_traceback(view_project, up.stdout, up.stderr, down.stdout, down.stderr)


@needs_redis
def test_every_view_project_file_is_covered(view_golden: Path) -> None:
    """Every file the view project leaves in its state folder has a damaged-file case (here or
    in tests/faults/test_state_files.py), or a reason not to."""
    assert VIEW_RECORD in relative_files(view_golden.parent / "good")
    assert uncovered(view_golden.parent / "good") == [], "state files without a damaged-file case"


@pytest.fixture
def state_on_small_disk(faulty: Callable[[dict[str, str]], Project], tmp_path: Path) -> Iterator[Project]:
    """A project whose state folder is a 4 MB tmpfs (its build hook fills it while
    `tmp_path/fill-the-disk` exists); cleaned up (fillers removed, `sunup down`, anything left
    killed) before the tmpfs is unmounted, even when the test fails."""
    project = faulty({".upsun/config.yaml": BUILD_CONFIG.format(flag=tmp_path / "fill-the-disk")})
    project.state.root.mkdir()
    with tmpfs(project.state.root, "4m"):
        try:
            yield project
        finally:
            for filler in project.state.root.glob("filler-*"):
                filler.unlink()
            project.cleanup()


@needs_root
def test_the_supervisor_stops_normally_on_a_full_disk(
    state_on_small_disk: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sunup up` stopped (SIGTERM) once its state folder is full: its last cleanup removes the
    cgroups, warns that isolation.json still lists them, and `up` ends with status 0, no
    traceback; the next `up` and `down`, with room again, forget them."""
    # No router: the files nginx removes as it stops (its pid file, sockets) would give the
    # ledger room again, and the disk would no longer be full when it is written.
    monkeypatch.setenv("SUNUP_ROUTER", "0")
    project = state_on_small_disk
    up = project.start("up")
    wait_for(lambda: project.supervisor() == up.pid, "sunup up to take the lock")
    ledger = Ledger.of(project.state.root)
    wait_for(lambda: ledger.places(CGROUP_V1), "the cgroups to be recorded")
    [tops] = ledger.places(CGROUP_V1)
    wait_for(lambda: b"web.0" in project.state.supervisor_log.read_bytes(), "web.0 to start")
    filler = fill(project.state.root)
    os.kill(up.pid, signal.SIGTERM)
    assert up.wait(timeout=60) == 0, project.output(up)
    said = project.output(up)
    assert "Traceback" not in said and "failed" not in said, said
    assert f"warning: cannot update {ledger.path}: No space left on device" in said, said
    assert not any(top.exists() for top in tops.values()), "the cgroups are removed all the same"
    assert ledger.places(CGROUP_V1) == [tops], "still listed: the file could not be written"
    filler.unlink()
    for args in (("up", "-d", "--settle", "0"), ("down",)):
        result = project(*args)
        assert result.returncode == 0, result.stderr
    assert ledger.places(CGROUP_V1) == []


#: A MariaDB service: its users' passwords come from `services/.secret`.
SECRET_CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      db: "db:mysql"
    web:
      commands:
        start: "exec sleep 36072"
services:
  db:
    type: mariadb:10.11
"""


@pytest.mark.skipif(shutil.which("mariadbd") is None, reason="needs mariadbd")
def test_up_with_a_damaged_secret(tmp_path: Path) -> None:
    """`sunup up` with a damaged `.secret` stops naming it, starts nothing and leaves the file;
    the file put back, the project runs with the passwords it had."""
    with ran_once(tmp_path, SECRET_CONFIG) as root:
        assert uncovered(tmp_path / "good") == [], "state files without a damaged-file case"
        project = Project(root)
        try:
            path = project.state.root / "services" / SECRET_FILE
            original = damage(path, garbage)
            up = project("up", "-d", "--settle", "0")
            assert up.returncode == 1, up.stderr
            assert f"the project's password secret {path} is damaged" in up.stderr and "remove it" in up.stderr
            assert_no_traceback(project, up.stdout, up.stderr)
            assert project.supervisor() is None and processes_under(project.root) == []
            assert path.read_bytes() == garbage(b"")
            path.write_bytes(original)
            again = project("up", "-d", "--settle", "0")
            assert again.returncode == 0, again.stderr
            query = project(
                "ssh",
                "--",
                'mariadb --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USERNAME" '
                '-p"$DB_PASSWORD" "$DB_PATH" -e "select 42"',
            )
            assert query.returncode == 0 and "42" in query.stdout, query.stdout + query.stderr
        finally:
            project.cleanup()


def build_marker(project: Project) -> Path:
    """The `.complete.json` of the build that filled the disk (the one without it)."""
    [unfinished] = [b for b in project.state.root.glob("builds/app/*") if not (b / ".complete.json").exists()]
    return unfinished / ".complete.json"


@needs_root
def test_up_whose_build_fills_the_disk(state_on_small_disk: Project, tmp_path: Path) -> None:
    """`sunup up -d` whose build fills the state folder's disk fails naming `.complete.json`,
    without "the supervisor failed" nor a traceback; with room again, the next `up` builds anew."""
    project = state_on_small_disk
    flag = tmp_path / "fill-the-disk"
    flag.touch()
    up = project("up", "-d", "--settle", "0")
    assert up.returncode == 1, up.stderr
    assert f"error: No space left on device: {build_marker(project)}" in up.stderr, up.stderr
    assert "the supervisor failed" not in up.stderr
    assert_no_traceback(project, up.stdout, up.stderr)
    assert project.supervisor() is None, "a refused `up` leaves no supervisor"
    flag.unlink()
    again = project("up", "-d", "--settle", "0")  # removes the unfinished build, so there is room
    assert again.returncode == 0, again.stderr


@needs_root
def test_deploy_whose_build_fills_the_disk(state_on_small_disk: Project, tmp_path: Path) -> None:
    """`sunup deploy` whose build fills the disk fails naming `.complete.json`; the supervisor goes
    on, web.0 runs on untouched, no traceback; with room again, the deploy goes through."""
    project = state_on_small_disk
    up = project("up", "-d", "--settle", "0")
    assert up.returncode == 0, up.stderr
    [before] = json.loads(project("ps", "--json").stdout)
    config = project.root / ".upsun" / "config.yaml"
    config.write_text(
        config.read_text().replace(
            'type: "composable:25.05"', 'type: "composable:25.05"\n    variables: {env: {NEW: "1"}}'
        )
    )
    flag = tmp_path / "fill-the-disk"
    flag.touch()
    deploy = project("deploy")
    assert deploy.returncode == 1, deploy.stderr
    assert f"No space left on device: {build_marker(project)}" in deploy.stderr, deploy.stderr
    assert_no_traceback(project, deploy.stdout, deploy.stderr)
    [after] = json.loads(project("ps", "--json").stdout)
    assert (after["state"], after["pid"]) == ("running", before["pid"]), "web.0 runs on untouched"
    flag.unlink()
    again = project("deploy")
    assert again.returncode == 0, again.stderr


def waits_for_flock(pid: int, inode: int) -> bool:
    """True when `pid` is blocked on a flock of the file (or folder) `inode` (/proc/locks: `->`)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # `1: -> FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF`
        if fields[1:3] == ["->", "FLOCK"] and fields[5] == str(pid) and fields[6].endswith(f":{inode}"):
            return True
    return False


WORKER_CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "exec sleep 36073"
    workers:
      chatty:
        commands:
          start: "exec sleep 36074"
"""


def test_two_resources_set_at_once_keep_both_changes(faulty: Callable[[dict[str, str]], Project]) -> None:
    """A `resources:set` while another one is between its read and its write of resources.json
    waits for it, then keeps both changes (it used to write its own over the other's)."""
    project = faulty({".upsun/config.yaml": WORKER_CONFIG})
    state = project.state.root
    state.mkdir()
    holder = os.open(state, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # the other `resources:set`, which has read the file
        seen = read_settings(state)
        second = project.start("resources:set", "--count", "chatty:3")
        inode = state.stat().st_ino
        wait_for(
            lambda: second.poll() is not None or waits_for_flock(second.pid, inode),
            "the second resources:set to wait for the first (or to end)",
        )
        write_settings(state, {**seen, "app:web": ResourceSetting(cpu=2.0)})
    finally:
        os.close(holder)
    assert second.wait(timeout=60) == 0, project.output(second)
    assert json.loads((state / "resources.json").read_text()) == {"app:chatty": {"count": 3}, "app:web": {"cpu": 2.0}}
