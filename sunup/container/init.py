"""PID 1's duties in a container: reap every orphan, pass signals on, end with the supervisor.

A container's first process inherits every orphaned process of its PID namespace, and the kernel
ignores the signals it has no handler for (a `kill -TERM 1` that does nothing). `become_init`
forks: the parent stays PID 1 and does only that (as tini does), the child goes on to supervise
the instance. The parent:

- reaps every child that ends (orphans re-parented to it, and the supervisor),
- forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the supervisor,
- when the supervisor ends, kills what is still re-parented to it (SIGKILL), reaps it and exits
  with the supervisor's status (128 + N when a signal N ended it).

Outside PID 1 (a test, a shell) the parent makes itself a child subreaper (PR_SET_CHILD_SUBREAPER),
so orphans come to it as they would to PID 1. Signals are blocked around the fork and taken with
sigwaitinfo(2): nothing runs in a signal handler, and none is lost between fork and wait.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterable

#: What PID 1 passes on to the supervisor.
FORWARDED = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2})
_PR_SET_CHILD_SUBREAPER = 36


def become_init() -> None:
    """Fork: return in the child (which goes on to supervise); never return in the parent, which
    reaps and forwards until the child ends, then exits with its status."""
    if os.getpid() != 1:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    watched = {*FORWARDED, signal.SIGCHLD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    child = os.fork()
    if child == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return
    os._exit(_serve(child, watched))


def _serve(child: int, watched: Iterable[int]) -> int:
    """The init loop: the exit status to end with once `child` has ended."""
    signals = set(watched)
    while True:
        status = _reap_all(child)
        if status is not None:
            _kill_orphans()
            return status
        info = signal.sigwaitinfo(signals)
        if info.si_signo in FORWARDED:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, info.si_signo)


def _reap_all(child: int) -> int | None:
    """Reap every ended child; the exit status of `child` when it is one of them."""
    found: int | None = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            found = code if code >= 0 else 128 - code


def orphans(me: int | None = None) -> list[int]:
    """The live processes whose parent is `me` (this process by default)."""
    me = os.getpid() if me is None else me
    found: list[int] = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != b"Z":
                found.append(int(name))
    return found


def _kill_orphans() -> None:
    """SIGKILL what outlived the supervisor and came to this process, then reap it."""
    while True:
        # Each one killed may leave children of its own, which come here in turn.
        for pid in orphans():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
