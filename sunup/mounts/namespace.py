"""Entering an instance's mount namespace: its app folder read-only, each mount a bind of its folder.

    setup = NamespaceSetup(Mode.MOUNT, app_dir, binds=(Bind(folder, target), ...), kept_flags=...)
    Popen(argv, preexec_fn=child_setup(setup))   # the child enters, then gets PR_SET_PDEATHSIG
    enter(setup)                                 # the same in this process (`sunup ssh`, before exec)

`enter` runs syscalls only (no program), about 0.1 ms:

1. unshare(CLONE_NEWNS); in `user` mode CLONE_NEWUSER|CLONE_NEWNS, then "deny" to
   /proc/self/setgroups and maps of the caller's own uid and gid: it keeps its identity, and the
   capabilities it has in the new user namespace end at its exec;
2. "/" made private, recursively: nothing mounted here reaches the host or another instance;
3. each bind, outer mounts first: a host folder on its target inside the app folder;
4. the app folder bound onto itself, recursively (carrying the binds of step 3);
5. that bind remounted read-only, with the flags a user namespace may not drop (nosuid, nodev,
   noexec) kept;
6. the working folder looked up again (Popen's `cwd` was entered before the mounts).

With `points` (a folder of the instance group's mount points that the build lacks), steps 4 and 5
are instead done first by a read-only overlay of `points` on the app folder: the group sees its
own mount points, and no other group's (they are not made in the build, which every group
shares). The mount points must exist (`sunup.mounts.layout` creates them). A failure in `child_setup`
writes one line to the child's stderr (the instance's log) and exits with status 125.
"""

from __future__ import annotations

import ctypes
import enum
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
#: Exit status of a child whose namespace could not be set up (as for a failed cgroup join).
SETUP_FAILED = 125
FAILURE_PREFIX = "sunup: could not set up the mount namespace: "

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p)
_libc.unshare.argtypes = (ctypes.c_int,)


class Mode(enum.Enum):
    """How an instance gets its own view of the files."""

    #: A mount namespace (needs CAP_SYS_ADMIN: root).
    MOUNT = "mount"
    #: A user namespace owning a mount namespace (any user, where the kernel allows it).
    USER = "user"
    #: None: the app folder stays writable; mounts are symlinks (`sunup.mounts.views`).
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Bind:
    #: The host folder.
    source: str
    #: Where the instance sees it (an absolute path inside the app folder).
    target: str


@dataclass(frozen=True, slots=True)
class NamespaceSetup:
    """What an instance's namespace holds; also sent to `sunup ssh` (`to_json`)."""

    mode: Mode
    #: The folder made read-only (PLATFORM_APP_DIR).
    app_dir: str
    #: Outer mounts first.
    binds: tuple[Bind, ...]
    #: MS_NOSUID / MS_NODEV / MS_NOEXEC of the app folder's mount, kept by the read-only remount.
    kept_flags: int = 0
    #: The identity mapped into a user namespace (`user` mode).
    uid: int = 0
    gid: int = 0
    #: A folder of empty mount points overlaid (read-only) on the app folder; "" for none.
    points: str = ""

    def overlay_options(self) -> str:
        """The options of the overlay of `points` on the app folder ("" without `points`)."""
        if not self.points:
            return ""

        def escaped(path: str) -> str:
            return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")

        return f"lowerdir={escaped(self.points)}:{escaped(self.app_dir)}"

    def __post_init__(self) -> None:
        if self.mode is Mode.NONE:
            raise ValueError("a namespace setup needs mode 'mount' or 'user'")

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "app_dir": self.app_dir,
            "binds": [[b.source, b.target] for b in self.binds],
            "kept_flags": self.kept_flags,
            "uid": self.uid,
            "gid": self.gid,
            "points": self.points,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NamespaceSetup:
        return cls(
            mode=Mode(data["mode"]),
            app_dir=str(data["app_dir"]),
            binds=tuple(Bind(str(s), str(t)) for s, t in data["binds"]),
            kept_flags=int(data["kept_flags"]),
            uid=int(data["uid"]),
            gid=int(data["gid"]),
            points=str(data.get("points", "")),
        )


def kept_flags(path: Path) -> int:
    """The flags of the mount holding `path` that a read-only remount of it must keep."""
    flags = os.statvfs(path).f_flag
    pairs = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))
    return sum(ms for st, ms in pairs if flags & st)


def _mount(source: bytes | None, target: bytes, flags: int) -> None:
    if _libc.mount(source, target, None, flags, None) != 0:
        number = ctypes.get_errno()
        action = "bind" if flags & MS_BIND and not flags & MS_REMOUNT else "mount"
        what = f"{action} {source.decode(errors='replace')} on" if source and source != target else f"{action}"
        raise OSError(number, f"{what} {target.decode(errors='replace')}: {os.strerror(number)}")


def _overlay(target: bytes, options: bytes, flags: int) -> None:
    if _libc.mount(b"overlay", target, b"overlay", flags, options) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"overlay on {target.decode(errors='replace')}: {os.strerror(number)}")


def _write(path: str, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise OSError(exc.errno, f"write {path}: {exc.strerror}") from None


def _steps(setup: NamespaceSetup) -> Callable[[], None]:
    """The syscalls of `enter`, with every path encoded beforehand (the child only calls)."""
    app = os.fsencode(setup.app_dir)
    binds = [(os.fsencode(b.source), os.fsencode(b.target)) for b in setup.binds]
    user = setup.mode is Mode.USER
    flags = CLONE_NEWNS | (CLONE_NEWUSER if user else 0)
    readonly = MS_REMOUNT | MS_BIND | MS_RDONLY | setup.kept_flags
    overlay = setup.overlay_options().encode()
    uid_map, gid_map = f"{setup.uid} {setup.uid} 1\n", f"{setup.gid} {setup.gid} 1\n"

    def run() -> None:
        here = os.getcwd()
        if _libc.unshare(flags) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"unshare({'user, ' if user else ''}mount): {os.strerror(number)}")
        if user:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", uid_map)
            _write("/proc/self/gid_map", gid_map)
        _mount(None, b"/", MS_REC | MS_PRIVATE)
        if overlay:
            _overlay(app, overlay, MS_RDONLY | setup.kept_flags)
        for source, target in binds:
            _mount(source, target, MS_BIND)
        if not overlay:
            _mount(app, app, MS_BIND | MS_REC)
            _mount(None, app, readonly)
        # The working folder was looked up before the mounts: look it up again, inside them.
        try:
            os.chdir(here)
        except OSError as exc:
            raise OSError(exc.errno, f"chdir {here}: {exc.strerror}") from None

    return run


def enter(setup: NamespaceSetup) -> None:
    """Move this process into a new namespace as `setup` says; OSError says which step failed.

    The process must have one thread (unshare of a user namespace refuses others).
    """
    _steps(setup)()


def child_setup(setup: NamespaceSetup | None, *, pdeathsig: bool = True) -> Callable[[], None]:
    """A `preexec_fn`: enter `setup` (if any), then die with the parent (PR_SET_PDEATHSIG).

    On failure it writes ``sunup: could not set up the mount namespace: …`` to stderr and exits
    with `SETUP_FAILED`, before the exec.
    """
    steps = _steps(setup) if setup is not None else None
    prctl = _libc.prctl

    def preexec() -> None:
        if steps is not None:
            try:
                steps()
            except OSError as exc:
                os.write(2, f"{FAILURE_PREFIX}{exc.strerror}\n".encode())
                os._exit(SETUP_FAILED)
        if pdeathsig:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec
