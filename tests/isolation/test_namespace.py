"""Mount namespaces of instances, for real: the app folder read-only, binds writable, nothing leaks.

Each test runs on every way this machine can enter a namespace: a mount namespace (root) or a
user namespace, through the compiled `sunup-enter` helper or a `preexec_fn`.
"""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sunup.mounts.helper import compile_helper, helper_argv, helper_path
from sunup.mounts.layout import InstanceMounts, MountError, entering, open_layout
from sunup.mounts.namespace import SETUP_FAILED, Bind, Mode, NamespaceSetup, kept_flags
from sunup.mounts.probe import probe
from sunup.supervisor.child import Child, output_pipe, spawn
from sunup.supervisor.testing import group_plan, project_plan

WAIT = 10.0


@dataclass(frozen=True)
class Way:
    mode: Mode
    helper: Path | None


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    return compile_helper(tmp_path_factory.mktemp("helper"))


@pytest.fixture(params=[(m, h) for m in (Mode.MOUNT, Mode.USER) for h in ("helper", "preexec")], ids=str)
def way(request: pytest.FixtureRequest, compiled: Path | None) -> Way:
    """A namespace mode and how the child enters it; skipped where this machine refuses it."""
    mode, how = request.param
    reason = probe(mode)
    if reason is not None:
        pytest.skip(f"{mode.value} namespaces are refused here: {reason}")
    if how == "helper" and compiled is None:
        pytest.skip("no C compiler: the helper cannot be built here")
    return Way(mode, compiled if how == "helper" else None)


@dataclass
class Tree:
    app: Path
    volume: Path

    def setup(self, mode: Mode, binds: tuple[Bind, ...] | None = None) -> NamespaceSetup:
        binds = binds if binds is not None else (Bind(str(self.volume), str(self.app / "data")),)
        return NamespaceSetup(mode, str(self.app), binds, kept_flags(self.app), os.geteuid(), os.getegid())


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    app, volume = tmp_path / "app", tmp_path / "volume"
    (app / "data").mkdir(parents=True)
    (app / "code.txt").write_text("built\n")
    volume.mkdir()
    return Tree(app, volume)


def run(way: Way, setup: NamespaceSetup, script: str, cwd: Path) -> tuple[int, str]:
    """Run `script` with sh in the namespace of `setup`, the way the supervisor starts instances."""
    read_end, write_end = output_pipe()
    try:
        child: Child = spawn(
            ["/bin/sh", "-c", script],
            env={"PATH": os.environ["PATH"]},
            cwd=cwd,
            output=write_end,
            namespace=setup,
            helper=way.helper,
        )
    finally:
        os.close(write_end)
    os.set_blocking(read_end, True)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    status = os.waitstatus_to_exitcode(child.reap())
    return status, b"".join(chunks).decode()


def mounts_of_this_process() -> str:
    return Path("/proc/self/mountinfo").read_text()


def test_the_app_folder_is_read_only_and_the_bind_is_writable(way: Way, tree: Tree) -> None:
    """Writing in the app folder fails with EROFS (also relative to the working folder); writing
    in the bound folder reaches the host folder; the host's mount table is unchanged."""
    before = mounts_of_this_process()
    script = textwrap.dedent(
        """\
        touch new.txt 2>&1 | grep -q 'Read-only file system' || { echo "relative write allowed"; exit 1; }
        touch "$0/code.txt" 2>&1 | grep -q 'Read-only file system' || { echo "absolute write allowed"; exit 1; }
        echo hello > data/greeting || exit 2
        cat code.txt
        """
    )
    status, out = run(way, tree.setup(way.mode), script.replace("$0", str(tree.app)), tree.app)
    assert status == 0, out
    assert out == "built\n"
    assert (tree.volume / "greeting").read_text() == "hello\n"
    assert not (tree.app / "new.txt").exists()
    assert not (tree.app / "data" / "greeting").exists()
    assert mounts_of_this_process() == before


def test_the_child_keeps_its_identity(way: Way, tree: Tree) -> None:
    """In a user namespace the instance keeps the user's own uid and gid (no fake root)."""
    status, out = run(way, tree.setup(way.mode), "id -u; id -g", tree.app)
    assert status == 0, out
    assert out.split() == [str(os.geteuid()), str(os.getegid())]


def test_a_setup_that_fails_exits_125_and_says_why(way: Way, tree: Tree) -> None:
    """A bind whose folder is missing: status 125 and one line naming the mount, before any exec."""
    missing = Bind(str(tree.app.parent / "missing"), str(tree.app / "data"))
    status, out = run(way, tree.setup(way.mode, (missing,)), "echo started", tree.app)
    assert status == SETUP_FAILED
    assert "sunup: could not set up the mount namespace:" in out
    assert "No such file or directory" in out
    assert "started" not in out


def test_a_child_of_the_helper_dies_with_its_parent(compiled: Path | None, tree: Tree) -> None:
    """The helper sets PR_SET_PDEATHSIG: an instance whose supervisor dies is killed by the kernel."""
    if compiled is None or probe(Mode.MOUNT if os.geteuid() == 0 else Mode.USER) is not None:
        pytest.skip("needs the helper and a namespace")
    setup = tree.setup(Mode.MOUNT if os.geteuid() == 0 else Mode.USER)
    argv = helper_argv(compiled, setup, ["sleep", "36007"])
    parent = subprocess.run(
        [sys.executable, "-c", f"import subprocess; print(subprocess.Popen({argv!r}).pid)"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    pid = int(parent.stdout)
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already gone
    try:
        ready, _, _ = select.select([pidfd], [], [], WAIT)
    finally:
        os.close(pidfd)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"sleep (pid {pid}) outlived its parent by {WAIT} s")


def test_the_helper_is_compiled_once_per_state_folder(tmp_path: Path) -> None:
    """A second `sunup up` finds the helper already built (same file, not rebuilt)."""
    if not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        pytest.skip("no C compiler here")
    first = compile_helper(tmp_path)
    assert first == helper_path(tmp_path) and first is not None
    mtime = first.stat().st_mtime_ns
    assert compile_helper(tmp_path) == first
    assert first.stat().st_mtime_ns == mtime


def test_setups_travel_as_json() -> None:
    """`sunup ssh` gets the instance's setup through the control socket, unchanged."""
    setup = NamespaceSetup(Mode.USER, "/b/app", (Bind("/v/a", "/b/app/a"),), 6, 1000, 1000)
    assert NamespaceSetup.from_json(setup.to_json()) == setup


def test_no_namespace_needs_no_mode() -> None:
    """A setup always has a namespace: Mode.NONE means running without one."""
    with pytest.raises(ValueError, match="mount"):
        NamespaceSetup(Mode.NONE, "/app", ())


def test_the_mode_can_be_forced_or_turned_off(tmp_path: Path) -> None:
    """SUNUP_NAMESPACES=0 runs without namespaces and without a warning; an unknown value is an
    error; auto picks a mount namespace for root where the kernel allows it."""
    plan = project_plan(group_plan("web", "serve"))
    off = open_layout(tmp_path, plan, choice="0")
    assert (off.mode, off.warning) == (Mode.NONE, None)
    with pytest.raises(MountError, match="not a choice"):
        open_layout(tmp_path, plan, choice="sometimes")
    if os.geteuid() == 0 and probe(Mode.MOUNT) is None:
        assert open_layout(tmp_path, plan, choice="auto").mode is Mode.MOUNT


def test_an_unprivileged_user_gets_a_user_namespace(tmp_path: Path) -> None:
    """Without root, a mount namespace is refused (with the kernel's reason) and a user namespace
    owning one is used instead, where the kernel allows it."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root (to become another user) and setpriv")
    code = "from sunup.mounts.probe import probe; from sunup.mounts.namespace import Mode; "
    code += "print(probe(Mode.MOUNT)); print(probe(Mode.USER))"
    repo = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=WAIT,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": repo, "TMPDIR": "/tmp"},
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot run Python as nobody here: {result.stderr.strip()[-200:]}")
    refused, allowed = result.stdout.splitlines()
    assert "unshare(mount): Operation not permitted" in refused
    if allowed != "None":
        pytest.skip(f"this kernel refuses unprivileged user namespaces: {allowed}")


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def test_other_commands_enter_the_instance_namespace_too(way: Way, tree: Tree) -> None:
    """`entering` gives hooks and crons the instance's view: the same read-only folder and binds."""
    mounts = InstanceMounts(tree.app, tree.app, (), namespace=tree.setup(way.mode), helper=way.helper)
    argv, preexec = entering(mounts, ["/bin/sh", "-c", "touch code.txt 2>&1; echo hook > data/out"])
    result = subprocess.run(
        argv, preexec_fn=preexec, cwd=tree.app, capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Read-only file system" in result.stdout
    assert (tree.volume / "out").read_text() == "hook\n"
    assert entering(None, ["true"]) == (["true"], None)


def test_mount_points_from_an_overlay_exist_only_in_the_namespace(way: Way, tree: Tree, tmp_path: Path) -> None:
    """With `points`, a mount point the app folder lacks comes from the overlaid folder: the bind
    works there, the app folder stays read-only, and the host's app folder never gets it."""
    points = tmp_path / "points"
    (points / "uploads").mkdir(parents=True)
    setup = dataclasses.replace(
        tree.setup(way.mode, (Bind(str(tree.volume), str(tree.app / "uploads")),)), points=str(points)
    )
    script = textwrap.dedent(
        """\
        touch new.txt 2>&1 | grep -q 'Read-only file system' || { echo "write allowed"; exit 1; }
        echo hello > uploads/greeting || exit 2
        ls -A
        """
    )
    status, output = run(way, setup, script, tree.app)
    assert status == 0, output
    assert output.split() == ["code.txt", "data", "uploads"]
    assert (tree.volume / "greeting").read_text() == "hello\n"
    assert not (tree.app / "uploads").exists()
