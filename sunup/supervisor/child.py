"""Starting one process of an instance, with no thread and no polling.

The process gets its own session (so its process group can be signalled as one), stdin from
/dev/null, stdout and stderr on one pipe (so their lines keep their order), and
`PR_SET_PDEATHSIG=SIGKILL`: if the supervisor dies, the kernel kills it. That is done by
`setpriv --pdeathsig` when the machine has it (keeps vfork(2): fast), else by a `preexec_fn`.
A process with a mount namespace (`sunup.mounts`) is started by the `sunup-enter` helper, which
enters the namespace, sets the death signal and execs it (vfork kept); without the helper, a
`preexec_fn` does the same (fork(2): slower; docs/mounts.md has the figures).

Its end is watched through a pidfd (readable when it exits), its output through the pipe, both
by the event loop; the supervisor never waits on the pipe's end of file.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sunup.mounts.helper import NOFILE_VARIABLE, helper_argv
from sunup.mounts.namespace import NamespaceSetup, child_setup

#: Bigger pipes mean fewer wake-ups under heavy output (Linux: F_SETPIPE_SZ).
PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = 1031
_PR_SET_PDEATHSIG = 1

_SETPRIV = shutil.which("setpriv")
#: Threads forking a batch of starts: they wait on the children's execs, not on a CPU.
FORK_THREADS = 4


#: The soft open-file limit this process had before `raise_open_file_limit` raised it: what
#: `spawn` gives its children back (empty: not raised).
_given_nofile: list[int] = []
#: fs.nr_open: the most RLIMIT_NOFILE may be, where the hard limit is "unlimited".
_NR_OPEN = Path("/proc/sys/fs/nr_open")


def raise_open_file_limit() -> tuple[int, int] | None:
    """Raise this process's soft open-file limit (RLIMIT_NOFILE) to its hard limit: a supervisor
    holds a pipe and a pidfd or two per instance, and many desktops start it with 1024. The
    processes `spawn` starts get the original soft limit back, so apps see the usual one.
    (original, raised), or None when there was nothing to raise (or it could not be)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = hard
    if hard == resource.RLIM_INFINITY:
        try:
            ceiling = int(_NR_OPEN.read_text(encoding="ascii"))
        except (OSError, ValueError):
            return None
    if soft != resource.RLIM_INFINITY and soft >= ceiling:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    except (OSError, ValueError):
        return None
    if not _given_nofile:  # raised once per process: a second supervisor in it keeps the first value
        _given_nofile.append(soft)
    return soft, ceiling


def _giving_back_nofile(step: Callable[[], None] | None) -> Callable[[], None] | None:
    """`step`, then the original soft open-file limit set (in the child, before its exec); just
    `step` when the limit was not raised."""
    if not _given_nofile:
        return step
    limit = (_given_nofile[0], resource.getrlimit(resource.RLIMIT_NOFILE)[1])

    def preexec() -> None:
        if step is not None:
            step()
        resource.setrlimit(resource.RLIMIT_NOFILE, limit)

    return preexec


def dying_with_parent(argv: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
    """`argv` and the `preexec_fn` that make it get SIGKILL when the process (thread) starting it
    dies: `setpriv --pdeathsig KILL` when the machine has it, else a `preexec_fn`; either way
    with the open-file limit sunup was started with (builds, hooks, crons)."""
    if _SETPRIV is not None:
        return [_SETPRIV, "--pdeathsig", "KILL", *argv], _giving_back_nofile(None)
    return list(argv), _giving_back_nofile(_pdeathsig_preexec())


def _pdeathsig_preexec() -> Callable[[], None]:
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec


@dataclass(slots=True)
class Child:
    """A running process: its pid, a pidfd that becomes readable when it exits."""

    pid: int
    pidfd: int
    popen: subprocess.Popen[bytes]

    def reap(self) -> int:
        """The wait status of the exited process (call once the pidfd is readable)."""
        _, status = os.waitpid(self.pid, 0)
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        os.close(self.pidfd)
        return status

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def seal_inherited_fds() -> None:
    """Mark every descriptor above 2 close-on-exec: those this process was started with
    (whatever its parent leaked). Python opens its own so (PEP 446), so once this is done a
    child needs no `close_fds` sweep — which, with an fd or two per instance, made each start
    slower. The supervisor calls it when it starts its instances."""
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError, ValueError):
                if int(name) > 2:
                    os.set_inheritable(int(name), False)


def forks_without_python(namespace: NamespaceSetup | None, helper: Path | None) -> bool:
    """Whether `spawn` with these runs no Python code in the child (no `preexec_fn`): it may then
    be called from several threads at once."""
    if namespace is not None:
        return helper is not None
    return _SETPRIV is not None and not _given_nofile


#: Threads that fork batches of starts; created once and kept (see `fork_pool`).
_pool: list[ThreadPoolExecutor] = []
os.register_at_fork(after_in_child=_pool.clear)  # a forked process has none of its threads


def fork_pool() -> ThreadPoolExecutor:
    """The threads a batch of starts is forked from (`Supervisor.start`): a fork waits for the
    child's exec, and a few such waits overlap. The threads live as long as the process:
    PR_SET_PDEATHSIG fires when the *thread* that forked a child ends, so they must not end
    while the children they started run."""
    if not _pool:
        _pool.append(ThreadPoolExecutor(FORK_THREADS, thread_name_prefix="sunup-fork"))
    return _pool[0]


def output_pipe() -> tuple[int, int]:
    """(read end, write end) of a large pipe; the read end does not block."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(write_end, _F_SETPIPE_SZ, PIPE_SIZE)
    os.set_blocking(read_end, False)
    return read_end, write_end


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    output: int,
    namespace: NamespaceSetup | None = None,
    helper: Path | None = None,
    join: Sequence[str] = (),
) -> Child:
    """Start `argv` in its own session with stdout and stderr on `output`, in `namespace` if given.

    Raises OSError when it cannot be started (missing folder, no /bin/sh...). A namespace that
    cannot be entered makes the child exit with status 125 after saying why on its stderr. The
    `helper` (`sunup-enter`) enters it if given, else a `preexec_fn`; the helper first joins the
    cgroups whose `cgroup.procs` files `join` lists (only with a helper). The process gets the
    soft open-file limit the supervisor started with (`raise_open_file_limit`): set by the helper,
    else by the `preexec_fn` (then fork(2), not vfork(2): only where the limit was raised).
    """
    if namespace is not None and helper is not None:
        argv = helper_argv(helper, namespace, list(argv), join)
        preexec: Callable[[], None] | None = None
        if _given_nofile:
            env = {**env, NOFILE_VARIABLE: str(_given_nofile[0])}
    elif namespace is not None:
        preexec = _giving_back_nofile(child_setup(namespace))
    elif _given_nofile:
        preexec = _giving_back_nofile(_pdeathsig_preexec())
    else:
        argv, preexec = dying_with_parent(argv)
    popen = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
        close_fds=False,  # every other descriptor is close-on-exec (`seal_inherited_fds`)
        # Never called from the fork pool's threads (`forks_without_python`); the hook only
        # makes syscalls (prctl, unshare, mount).
        preexec_fn=preexec,  # noqa: PLW1509
    )
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError:
        popen.kill()
        popen.wait()
        raise
    return Child(popen.pid, pidfd, popen)
