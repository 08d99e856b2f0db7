"""Mounts end to end (spec §4), through the `sunup` command: real supervisors, real namespaces.

Each instance of the small project below runs `check.py` when it starts: it tries to append its
instance key to each path given and prints what happened (``ok`` or the errno name) on one
``CHECK`` line of its log, then sleeps. The mail worker (`mounts: {}`) tries every folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sunup.mounts.namespace import Mode
from sunup.mounts.probe import probe

pytestmark = pytest.mark.slow

#: Longest wait for an instance to print its CHECK line, or for a state to be reached.
WAIT = 20.0

CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "python3 check.py built.txt uploads/w shared/w && exec sleep 36011"
      mounts:
        uploads: {source: storage, source_path: uploads}
        shared: {source: storage, service: files, source_path: shared}
    workers:
      queue:
        commands:
          start: "python3 check.py built.txt uploads/w data/w scratch/w local/w shared/w && exec sleep 36011"
        mounts:
          data: {source: storage, source_path: data}
          scratch: {source: tmp}
          local: {source: instance}
          shared: {source: storage, service: files, source_path: shared}
      mail:
        commands:
          start: "python3 check.py --everywhere && exec sleep 36011"
        mounts: {}
"""

CHECK = """\
import errno, json, os, sys


def attempt(path):
    try:
        with open(path, "a") as handle:
            handle.write(os.environ["SUNUP_INSTANCE"] + "\\n")
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))


if sys.argv[1:] == ["--everywhere"]:
    found = {folder: attempt(os.path.join(folder, ".probe")) for folder, _, _ in os.walk(".")}
else:
    found = {path: attempt(path) for path in sys.argv[1:]}
print("CHECK " + json.dumps(found), flush=True)
"""


@dataclass
class Project:
    """A project folder and the `sunup` command run on it (its own state folder, its own env)."""

    root: Path
    env: dict[str, str]
    started: list[int] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.root / ".sunup"

    @property
    def volumes(self) -> Path:
        return self.state / "volumes" / "app" / "app"

    def sunup(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "sunup", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"sunup {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result

    def up(self) -> None:
        self.sunup("up", "-d", "--settle", "0.2")
        pid = self.supervisor()
        if pid:
            self.started.append(pid)

    def supervisor(self) -> int | None:
        try:
            text = (self.state / "supervisor.lock").read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def ps(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(self.sunup("ps", "--json").stdout)
        return rows

    def checks(self, name: str, count: int = 1) -> list[dict[str, str]]:
        """The CHECK lines of instance `name` once there are `count` of them (one per start)."""
        log = self.state / "logs" / "app" / name / "app.log"
        deadline = time.monotonic() + WAIT
        while True:
            text = log.read_text() if log.exists() else ""
            found = [json.loads(line.partition("CHECK ")[2]) for line in text.splitlines() if "CHECK " in line]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"{name} printed {len(found)} CHECK lines, not {count}, in {WAIT} s; its log:\n{text}")
            time.sleep(0.05)

    def wait_states(self, expected: dict[str, str]) -> list[dict[str, Any]]:
        """`ps` once every instance is in the state given (and only those instances exist)."""
        deadline = time.monotonic() + WAIT
        while True:
            rows = self.ps()
            if {r["name"]: r["state"] for r in rows} == expected:
                return rows
            if time.monotonic() > deadline:
                pytest.fail(f"instances are {[(r['name'], r['state']) for r in rows]}, not {expected}")
            time.sleep(0.05)

    def cleanup(self) -> None:
        if self.supervisor() is None:
            return
        if self.sunup("down", check=False).returncode != 0:
            for pid in self.started:  # only the supervisors this test started
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue


def lines(path: Path) -> list[str]:
    return sorted(path.read_text().split())


@pytest.fixture
def project(make_project: Callable[..., Path]) -> Iterator[Project]:
    """The project, run with this machine's best namespace mode; stopped afterwards."""
    root = make_project({".upsun/config.yaml": CONFIG, "check.py": CHECK})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUNUP_")}
    env["NO_COLOR"] = "1"
    running = Project(root, env)
    try:
        yield running
    finally:
        running.cleanup()


def namespaces(mode: str) -> None:
    """Skip unless this machine allows namespaces of `mode`."""
    reason = probe(Mode(mode))
    if reason is not None:
        pytest.skip(f"{mode} namespaces are refused here: {reason}")


@pytest.mark.parametrize("mode", ["mount", "user"])
def test_writing_outside_the_mounts_fails_with_erofs(project: Project, mode: str) -> None:
    """In a mount or user namespace the app folder is read-only (EROFS) and the mounts writable."""
    namespaces(mode)
    project.env["SUNUP_NAMESPACES"] = mode
    project.up()
    assert project.checks("web.0")[0] == {"built.txt": "EROFS", "uploads/w": "ok", "shared/w": "ok"}


def test_the_mail_worker_without_mounts_can_write_nowhere_in_the_app(project: Project) -> None:
    """`mounts: {}`: every folder of the app tree refuses writes, and the other groups' mount
    points are not in it."""
    namespaces("mount")
    project.up()
    found = project.checks("mail.0")[0]
    assert set(found) == {".", "./.upsun"}
    assert set(found.values()) == {"EROFS"}


@pytest.mark.parametrize("mode", ["mount", "user"])
def test_each_group_sees_its_own_mount_points_only(project: Project, mode: str) -> None:
    """Mount points the build lacks exist for the group that has them, not in the build every
    group shares: web sees uploads and shared, queue its own four, and the built app none."""
    namespaces(mode)
    project.env["SUNUP_NAMESPACES"] = mode
    project.up()
    project.checks("queue.0")

    def listing(*selection: str) -> set[str]:
        return set(project.sunup("ssh", *selection, "--", "ls -A").stdout.split())

    source = {".upsun", "check.py"}
    assert listing("--web") == source | {"uploads", "shared"}
    assert listing("--worker", "queue") == source | {"data", "scratch", "local", "shared"}
    assert listing("--worker", "mail") == source
    (built,) = (project.state / "builds" / "app").glob("*/app")
    assert {p.name for p in built.iterdir()} == source


def test_web_and_queue_keep_their_storage_apart_but_share_a_service_mount(project: Project) -> None:
    """Plain storage is per group: queue cannot write web's `uploads`; both write the `files` mount."""
    namespaces("mount")
    project.up()
    web, queue = project.checks("web.0")[0], project.checks("queue.0")[0]
    assert web["uploads/w"] == "ok" and queue["uploads/w"] == "ENOENT"  # web's mount point is not queue's
    assert queue["data/w"] == "ok"
    assert lines(project.volumes / "web" / "storage" / "uploads" / "w") == ["app.web.0"]
    assert lines(project.volumes / "queue" / "storage" / "data" / "w") == ["app.queue.0"]
    assert lines(project.state / "volumes" / "service" / "files" / "shared" / "w") == ["app.queue.0", "app.web.0"]


def test_two_queue_instances_share_storage_but_not_tmp_or_instance(project: Project) -> None:
    """Instances of one group see the same `storage` files and their own `tmp` and `instance` files."""
    namespaces("mount")
    project.sunup("resources:set", "--count", "queue:2")
    project.up()
    for name in ("queue.0", "queue.1"):
        assert project.checks(name)[0]["scratch/w"] == "ok"
    queue = project.volumes / "queue"
    assert lines(queue / "storage" / "data" / "w") == ["app.queue.0", "app.queue.1"]
    for index in (0, 1):
        assert lines(queue / "tmp" / str(index) / "scratch" / "w") == [f"app.queue.{index}"]
        assert lines(queue / "instance" / str(index) / "local" / "w") == [f"app.queue.{index}"]


def test_persistent_data_survives_redeploy_and_down_up_but_tmp_does_not(project: Project) -> None:
    """storage and instance files outlive a redeploy and a down/up; tmp outlives a redeploy only;
    removing a mount from the configuration deletes none of its files."""
    namespaces("mount")
    project.up()
    project.checks("queue.0")
    project.sunup("redeploy")
    project.checks("queue.0", count=2)
    queue = project.volumes / "queue"
    data, local, scratch = queue / "storage/data/w", queue / "instance/0/local/w", queue / "tmp/0/scratch/w"
    assert [len(lines(f)) for f in (data, local, scratch)] == [2, 2, 2]
    project.sunup("down")
    assert not (queue / "tmp").exists()
    assert [len(lines(f)) for f in (data, local)] == [2, 2]
    project.up()
    project.checks("queue.0", count=3)
    assert [len(lines(f)) for f in (data, local, scratch)] == [3, 3, 1]
    project.sunup("down")
    config = project.root / ".upsun" / "config.yaml"
    config.write_text(config.read_text().replace("          data: {source: storage, source_path: data}\n", ""))
    project.up()
    project.checks("queue.0", count=4)
    assert len(lines(data)) == 3


def test_scaling_queue_while_it_runs(project: Project) -> None:
    """1 → 3 → 1: new instances start with their own instance folders and the shared storage, a
    redeploy keeps the new count, the removed ones stop and lose their tmp, and `ps` and the
    peers file follow."""
    namespaces("mount")
    project.up()
    peers = project.state / "run" / "peers" / "app" / "queue.json"

    def members() -> list[str]:
        return [i["name"] for i in json.loads(peers.read_text())["instances"]]

    assert members() == ["queue.0"]
    project.sunup("resources:set", "--count", "queue:3")
    rows = project.wait_states(dict.fromkeys(("web.0", "queue.0", "queue.1", "queue.2", "mail.0"), "running"))
    assert members() == ["queue.0", "queue.1", "queue.2"]
    for name in ("queue.1", "queue.2"):
        assert project.checks(name)[0]["local/w"] == "ok"
    queue = project.volumes / "queue"
    assert lines(queue / "storage" / "data" / "w") == ["app.queue.0", "app.queue.1", "app.queue.2"]
    project.sunup("redeploy")  # restarts the scaled group, not the count sunup started with
    rows = project.wait_states(dict.fromkeys(("web.0", "queue.0", "queue.1", "queue.2", "mail.0"), "running"))
    removed = [r["pid"] for r in rows if r["name"] in ("queue.1", "queue.2")]
    project.sunup("resources:set", "--count", "queue:1")
    project.wait_states({"web.0": "running", "queue.0": "running", "mail.0": "running"})
    assert members() == ["queue.0"]
    for pid in removed:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not (queue / "tmp" / "1").exists() and (queue / "instance" / "2" / "local" / "w").exists()


def test_ssh_lands_in_the_instance_namespace_and_limits(project: Project) -> None:
    """`sunup ssh` sees the read-only app folder and the instance's own tmp, in a cgroup of its own
    with the instance's memory limit."""
    namespaces("mount")
    project.sunup("resources:set", "--count", "queue:2")
    project.up()
    command = "python3 check.py built.txt scratch/ssh; grep -E '[:,]memory[,:]' /proc/self/cgroup"
    result = project.sunup("ssh", "--worker", "queue", "-I", "1", "--", command)
    check_line, _, cgroup = result.stdout.partition("\n")
    assert json.loads(check_line.partition("CHECK ")[2]) == {"built.txt": "EROFS", "scratch/ssh": "ok"}
    assert lines(project.volumes / "queue" / "tmp" / "1" / "scratch" / "ssh") == ["app.queue.1"]
    if "app.queue.1.ssh-" not in cgroup:
        pytest.skip(f"no cgroup v1 memory controller here: {cgroup!r}")
    group = cgroup.strip().split(":", 2)[2]
    limit = Path(f"/sys/fs/cgroup/memory{group}/memory.limit_in_bytes").read_text()
    assert int(limit) == 224 * 1024 * 1024


def test_without_namespaces_each_instance_runs_in_a_view_of_symlinks(project: Project) -> None:
    """SUNUP_NAMESPACES=0: mounts are symlinks in a per-instance view; the sharing rules still hold,
    and the app folder is writable (what is lost)."""
    project.env["SUNUP_NAMESPACES"] = "0"
    project.sunup("resources:set", "--count", "queue:2")
    project.up()
    first, second = project.checks("queue.0")[0], project.checks("queue.1")[0]
    assert first["built.txt"] == "ok"
    assert first["uploads/w"] == "ENOENT"  # web's mount is not in queue's view
    queue = project.volumes / "queue"
    assert lines(queue / "storage" / "data" / "w") == ["app.queue.0", "app.queue.1"]
    assert lines(queue / "tmp" / "1" / "scratch" / "w") == ["app.queue.1"]
    assert second["scratch/w"] == "ok"
    env = json.loads(
        project.sunup(
            "ssh",
            "--worker",
            "queue",
            "-I",
            "1",
            "--",
            "python3 -c 'import json,os; print(json.dumps(dict(os.environ)))'",
        ).stdout
    )
    assert env["PLATFORM_APP_DIR"] == str(project.state / "views" / "app" / "queue.1")
