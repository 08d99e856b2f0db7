"""`sunup deploy`, `redeploy`, `crons`, `cron:run`, `cron:cancel` and the hook logs, end to end.

Each test runs a small project in a temp folder (its source in `src/`, so editing the
configuration changes the build only through what the build sees). Every command of the project
appends a line to an events file outside the source: the build hook, each instance's start and
readiness (its post_start waits until its start line is written), the deploy and post_deploy
hooks, the crons. The tests read the order of those lines.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.plan.resources import DEFAULT_RUNTIME_PROFILE, memory_for

BOUND = 30.0  # seconds any single wait may take before the test fails

#: post_start of every instance: wait for this start's line, then say the instance is ready.
READY = """\
n=$(cat "$EVENTS" 2>/dev/null | grep -c "^ready $SUNUP_INSTANCE\\$")
until [ "$(cat "$EVENTS" 2>/dev/null | grep -c "^start $SUNUP_INSTANCE\\$")" -gt "$n" ]; do sleep 0.01; done
echo "ready $SUNUP_INSTANCE" >> "$EVENTS"
"""


def config(events: Path, *, flavour: str = "plain", build_extra: str = "", cron_spec: str = "0 0 1 1 *") -> str:
    def ready(indent: int) -> str:
        return "".join(" " * indent + line + "\n" for line in READY.splitlines())

    return f"""\
applications:
  app:
    type: nodejs:20
    source:
      root: src
    variables:
      env:
        EVENTS: "{events}"
        FLAVOUR: "{flavour}"
    hooks:
      build: |
        echo "build $(cat version.txt) $FLAVOUR" >> "$EVENTS"
        {build_extra}
      deploy: |
        echo "deploy $(cat version.txt) $SUNUP_INSTANCE" >> "$EVENTS"
      post_deploy: |
        echo "post_deploy $(cat version.txt) $SUNUP_INSTANCE" >> "$EVENTS"
    web:
      commands:
        start: 'echo "start $SUNUP_INSTANCE" >> "$EVENTS"; exec sleep 1000'
        post_start: |
{ready(10)}    workers:
      queue:
        commands:
          start: 'echo "start $SUNUP_INSTANCE" >> "$EVENTS"; exec sleep 1000'
          post_start: |
{ready(12)}    crons:
      note:
        spec: "{cron_spec}"
        commands:
          start: 'echo "cron $SUNUP_INSTANCE"; echo "cron $SUNUP_INSTANCE" >> "$EVENTS"; exit 3'
      slow:
        spec: "0 0 1 1 *"
        shutdown_timeout: 2
        commands:
          start: 'echo slow-start >> "$EVENTS"; while [ ! -e "$EVENTS.release" ]; do sleep 0.05; done; echo slow-end >> "$EVENTS"'
"""


class Project:
    """A project in a temp folder, driven through the `sunup` command."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events_path = root.parent / "events"
        self.env = {**os.environ, "SUNUP_STOP_GRACE": "1", "NO_COLOR": "1"}
        self.env.pop("SUNUP_STATE_DIR", None)

    def write(self, *, version: str = "v1", **options: str) -> None:
        (self.root / ".upsun").mkdir(parents=True, exist_ok=True)
        (self.root / "src").mkdir(exist_ok=True)
        (self.root / ".upsun" / "config.yaml").write_text(config(self.events_path, **options))
        (self.root / "src" / "version.txt").write_text(version + "\n")

    def sunup(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sunup", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.sunup(*args)
        assert result.returncode == 0, f"sunup {' '.join(args)}: {result.stdout}{result.stderr}"
        return result

    def events(self) -> list[str]:
        return self.events_path.read_text().splitlines() if self.events_path.exists() else []

    def wait_for(self, condition: Callable[[list[str]], bool], what: str) -> list[str]:
        deadline = time.monotonic() + BOUND
        while not condition(events := self.events()):
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {BOUND} s waiting for {what}; events: {events}")
            time.sleep(0.05)
        return events

    def wait_count(self, line: str, count: int) -> list[str]:
        return self.wait_for(lambda events: events.count(line) >= count, f"{count} times {line!r}")

    def pids(self) -> dict[str, int]:
        rows = json.loads(self.ok("ps", "--json").stdout)
        assert all(r["state"] == "running" for r in rows), rows
        return {r["name"]: r["pid"] for r in rows}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A project with two web instances and a queue worker; whatever runs is stopped at the end."""
    created = Project(tmp_path / "project")
    created.write()
    created.ok("resources:set", "--count", "web:2")
    yield created
    created.sunup("down")


WEB0, WEB1, QUEUE = "app.web.0", "app.web.1", "app.queue.0"


def assert_one_deploy(events: list[str], version: str, *, deploy_hook: bool = True) -> None:
    """Every instance started and got ready once, then the hooks ran on web.0 only, in order."""
    for instance in (WEB0, WEB1, QUEUE):
        assert events.count(f"start {instance}") == 1, events
        assert events.index(f"start {instance}") < events.index(f"ready {instance}"), events
    hooks = [e for e in events if e.startswith(("deploy", "post_deploy"))]
    expected = ([f"deploy {version} {WEB0}"] if deploy_hook else []) + [f"post_deploy {version} {WEB0}"]
    assert hooks == expected, events
    last_ready = max(events.index(f"ready {i}") for i in (WEB0, WEB1, QUEUE))
    assert last_ready < events.index(hooks[0]), events


@pytest.mark.slow
def test_hooks_run_once_on_web_zero_after_every_instance_started(project: Project) -> None:
    """up and deploy start web and workers first, then run deploy then post_deploy on web.0 only."""
    project.ok("up", "-d", "--settle", "0.2")
    events = project.wait_count(f"post_deploy v1 {WEB0}", 1)
    assert events[0] == "build v1 plain", events
    assert_one_deploy(events[1:], "v1")
    before = project.pids()

    (project.root / "src" / "version.txt").write_text("v2\n")
    deployed = project.ok("deploy")
    assert "running the deploy hook on web.0" in deployed.stderr
    assert "web.0" in deployed.stdout and "queue.0" in deployed.stdout  # the instances, as ps shows them
    events = project.events()[len(events) :]
    assert events[0] == "build v2 plain", events
    assert_one_deploy(events[1:], "v2")
    after = project.pids()
    assert set(after) == set(before) and not set(after.values()) & set(before.values())

    cron = project.sunup("cron:run", "note")
    assert cron.returncode == 3, cron.stderr  # the cron's exit status is sunup's
    assert f"cron {WEB0}" in cron.stdout  # its output, from cron.log
    assert [e for e in project.events() if e.startswith("cron")] == [f"cron {WEB0}"]
    assert "Running cron note" in project.ok("logs", "cron").stdout
    assert "Launching command" in project.ok("logs", "deploy").stdout
    assert "Launching command" in project.ok("logs", "post-deploy").stdout
    assert "Executing build hook" in project.ok("logs", "build").stdout
    refused = project.sunup("logs", "cron", "--worker", "queue")
    assert refused.returncode == 2 and "web instance 0" in refused.stderr


@pytest.mark.slow
def test_unchanged_project_is_not_built_again_but_a_variable_change_is(project: Project) -> None:
    """A second up and a deploy of the same tree reuse the build (and skip the deploy hook);
    changing a build-visible variable rebuilds and runs the deploy hook again."""
    project.ok("up", "-d", "--settle", "0.2")
    project.wait_count(f"post_deploy v1 {WEB0}", 1)
    project.ok("down")
    project.ok("up", "-d", "--settle", "0.2")
    events = project.wait_count(f"post_deploy v1 {WEB0}", 2)
    assert events.count("build v1 plain") == 1, events
    assert events.count(f"deploy v1 {WEB0}") == 1, events  # same tree: no deploy hook
    before = project.pids()

    unchanged = project.ok("deploy")
    assert "nothing changed" in unchanged.stderr
    assert project.pids() == before
    assert project.events().count("build v1 plain") == 1

    project.write(flavour="spicy")  # only what the build sees changes: the source is the same
    project.ok("deploy")
    events = project.events()
    assert events.count("build v1 spicy") == 1, events
    assert events.count(f"deploy v1 {WEB0}") == 2, events
    assert not set(project.pids().values()) & set(before.values())


@pytest.mark.slow
def test_failing_build_leaves_the_running_instances(project: Project) -> None:
    """A deploy whose build hook fails shows its output and status, exits 1, and the instances
    that ran go on running (same pids); so does a configuration with an error."""
    project.ok("up", "-d", "--settle", "0.2")
    project.wait_count(f"post_deploy v1 {WEB0}", 1)
    before = project.pids()

    project.write(version="v2", build_extra='echo "the build is broken"; exit 7')
    failed = project.sunup("deploy")
    assert failed.returncode == 1
    assert "the build hook exited with status 7" in failed.stderr
    assert "the build is broken" in failed.stderr
    assert project.pids() == before
    assert "the build is broken" in project.ok("logs", "build").stdout

    (project.root / ".upsun" / "config.yaml").write_text("applications:\n  app:\n    tpye: nodejs:20\n")
    broken = project.sunup("deploy")
    assert broken.returncode == 1 and "the configuration has" in broken.stderr, broken.stderr
    assert project.pids() == before


@pytest.mark.slow
def test_redeploy_restarts_and_runs_post_deploy_only(project: Project) -> None:
    """redeploy restarts every instance and runs post_deploy, without a build or the deploy hook."""
    project.ok("up", "-d", "--settle", "0.2")
    events = project.wait_count(f"post_deploy v1 {WEB0}", 1)
    before = project.pids()
    (project.root / "src" / "version.txt").write_text("v2\n")  # not picked up: no build

    project.ok("redeploy")
    events = project.events()[len(events) :]
    assert "build" not in " ".join(events)
    assert_one_deploy(events, "v1", deploy_hook=False)
    assert not set(project.pids().values()) & set(before.values())


def memory_limit(pid: int) -> int | None:
    """The memory limit of the cgroup `pid` runs in (v1 or v2), None without one."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        for folder, name in (("memory", "memory.limit_in_bytes"), ("", "memory.max")):
            wanted = "memory" in controllers.split(",") if folder else controllers == ""
            limit = Path("/sys/fs/cgroup", folder, path.lstrip("/"), name)
            if wanted and limit.exists() and limit.read_text().strip().isdigit():
                return int(limit.read_text())
    return None


def test_redeploy_applies_new_sizes(project: Project) -> None:
    """`resources:set --size` says to redeploy; the redeploy's instances run with the new size."""
    project.ok("up", "-d", "--settle", "0.2")
    before = memory_limit(project.pids()["web.0"])
    if before is None:
        pytest.skip("no memory cgroup for the instances here")
    said = project.ok("resources:set", "--size", "web:2")
    assert "sunup redeploy" in said.stdout + said.stderr
    project.ok("redeploy")
    after = memory_limit(project.pids()["web.0"])
    assert after == memory_for(DEFAULT_RUNTIME_PROFILE, 2.0) * 1024 * 1024 != before


def read_until(process: subprocess.Popen[str], text: str) -> str:
    """What `process` writes on stderr up to a line containing `text` (bounded)."""
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + BOUND
    while text not in seen:
        if not select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise AssertionError(f"no {text!r} within {BOUND} s; stderr so far: {seen!r}")
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"stderr closed before {text!r}: {seen!r}")
        seen += line
    return seen


@pytest.mark.slow
def test_deploy_waits_for_a_running_cron_and_says_so(project: Project) -> None:
    """A deploy that finds a cron running waits for it to end before stopping any instance."""
    project.ok("up", "-d", "--settle", "0.2")
    project.wait_count(f"post_deploy v1 {WEB0}", 1)
    project.ok("cron:run", "slow", "--no-wait")
    project.wait_count("slow-start", 1)
    (project.root / "src" / "version.txt").write_text("v2\n")

    with subprocess.Popen(
        [sys.executable, "-m", "sunup", "deploy"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as deploy:
        said = read_until(deploy, "waiting for cron slow, running for")
        assert "stopping the running instances" not in said
        Path(f"{project.events_path}.release").touch()
        _, rest = deploy.communicate(timeout=BOUND)
    assert deploy.returncode == 0, said + rest
    events = project.events()
    assert events.index("slow-end") < events.index(f"deploy v2 {WEB0}")
    assert events.index("slow-end") < len(events) - events[::-1].index(f"start {WEB0}") - 1  # before the new start


@pytest.mark.slow
def test_cron_cancel_stops_the_running_cron(project: Project) -> None:
    """cron:cancel sends SIGTERM to a running cron; crons shows it cancelled; it never ends on its own."""
    project.ok("up", "-d", "--settle", "0.2")
    project.wait_count(f"post_deploy v1 {WEB0}", 1)
    listed = project.ok("crons").stdout
    assert "note" in listed and "slow" in listed and "UTC" in listed
    project.ok("cron:run", "slow", "--no-wait")
    project.wait_count("slow-start", 1)

    cancelled = project.ok("cron:cancel", "slow")
    assert "cron slow cancelled after" in cancelled.stderr and "SIGTERM" in cancelled.stderr
    rows = {r["name"]: r for r in json.loads(project.ok("crons", "--json").stdout)}
    assert rows["slow"]["running_since"] is None
    assert rows["slow"]["last"]["cancelled"] and rows["slow"]["last"]["status"] == -15
    assert "cancelled, SIGTERM" in project.ok("crons").stdout
    assert "slow-end" not in project.events()
    assert "is not running" in project.ok("cron:cancel", "slow").stderr
    unknown = project.sunup("cron:run", "nte")
    assert unknown.returncode == 2 and "did you mean 'note'?" in unknown.stderr


def test_deploy_without_a_running_sunup_says_so(tmp_path: Path) -> None:
    """deploy, redeploy and the cron commands fail with a hint to start sunup when it does not run."""
    project = Project(tmp_path / "project")
    project.write()
    for args in (("deploy",), ("redeploy",), ("crons",), ("cron:run", "note")):
        result = project.sunup(*args)
        assert result.returncode == 1, args
        assert "sunup is not running for this project" in result.stderr
        assert "sunup up" in result.stderr


@pytest.mark.slow
def test_up_warns_about_a_cron_more_frequent_than_upsun_allows(tmp_path: Path) -> None:
    """A cron every minute runs locally, with Upsun's 5-minute minimum shown as a warning at up."""
    project = Project(tmp_path / "project")
    project.write(cron_spec="* * * * *")
    try:
        started = project.ok("up", "-d", "--settle", "0.2")
        assert "warning[cron-too-frequent]" in started.stderr
        assert "Upsun runs crons at most every 5 min" in started.stderr
    finally:
        project.sunup("down")
