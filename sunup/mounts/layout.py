"""What each instance sees of the files on this machine: the chosen mode and each instance's mounts.

    layout = open_layout(state_root, plan)        # once per `sunup up`: picks and probes the mode
    layout.mode, layout.warning                   # Mode.MOUNT / USER / NONE; one line, or None
    mounts = layout.instance(group, index, app_dir)
    prepare(mounts)                               # before each start: folders, mount points, view
    argv, preexec = entering(mounts, argv)        # any other command in the instance's namespace
    layout.wipe_tmp()                             # at `sunup up` and `sunup down`

`SUNUP_NAMESPACES` picks the mode: ``auto`` (default: a mount namespace as root, else a user
namespace, else none, with a warning saying what is lost), ``mount``, ``user`` (an error when
this machine refuses it), or ``0`` / ``none`` (no namespace, no warning: for comparisons).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.mounts.helper import compile_helper, helper_argv
from sunup.mounts.namespace import Bind, Mode, NamespaceSetup, child_setup, kept_flags
from sunup.mounts.probe import probe
from sunup.mounts.views import build_view, view_dir
from sunup.mounts.volumes import VOLUMES, Volume, instance_volumes, mount_point, storage_services
from sunup.plan.model import GroupPlan, ProjectPlan

ENV_VARIABLE = "SUNUP_NAMESPACES"
_OFF = ("0", "no", "off", "false", "none")
_RESTRICTION = Path("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")


class MountError(RuntimeFailure):
    """A mount of an instance cannot be set up (a file where its mount point goes, ...)."""


@dataclass(frozen=True, slots=True)
class InstanceMounts:
    """The files of one instance: where it runs, its volumes, and its namespace or view."""

    #: PLATFORM_APP_DIR and the working folder: the app folder, or the instance's view.
    app_dir: Path
    #: The app folder as built.
    build_dir: Path
    volumes: tuple[Volume, ...]
    namespace: NamespaceSetup | None = None
    view: Path | None = None
    #: The `sunup-enter` program that enters `namespace` (None: a `preexec_fn` does).
    helper: Path | None = None


@dataclass(slots=True)
class MountLayout:
    state_root: Path
    mode: Mode
    warning: str | None = None
    network_storage: frozenset[str] = frozenset()
    helper: Path | None = None
    uid: int = field(default_factory=os.geteuid)
    gid: int = field(default_factory=os.getegid)
    #: Mount points the build lacks go in a folder of the group's own, overlaid on the app folder
    #: in its namespace (`NamespaceSetup.points`), not in the build every group shares; without
    #: overlays here (`probe`), they are made in the build.
    points: bool = False
    _flags: dict[Path, int] = field(default_factory=dict)

    def instance(self, group: GroupPlan, index: int, app_dir: Path) -> InstanceMounts:
        """The mounts of instance `index` of `group`, whose code is in `app_dir`."""
        volumes = instance_volumes(group, index, self.state_root, self.network_storage)
        if self.mode is Mode.NONE:
            if not volumes:
                return InstanceMounts(app_dir, app_dir, volumes)
            view = view_dir(self.state_root, group.app, f"{group.name}.{index}")
            return InstanceMounts(view, app_dir, volumes, view=view)
        binds = [Bind(str(v.folder), str(app_dir / v.path)) for v in volumes]
        if app_dir in self.state_root.parents:
            # No build (the source folder runs): sunup's state inside it stays writable.
            binds.insert(0, Bind(str(self.state_root), str(self.state_root)))
        if app_dir not in self._flags:
            self._flags[app_dir] = kept_flags(app_dir)
        points = ""
        in_app = [v.path for v in volumes if mount_point(app_dir, volumes, v.path) == app_dir / v.path]
        if self.points and any(not os.path.isdir(app_dir / path) for path in in_app):
            points = str(points_dir(self.state_root, group, in_app))
        setup = NamespaceSetup(self.mode, str(app_dir), tuple(binds), self._flags[app_dir], self.uid, self.gid, points)
        return InstanceMounts(app_dir, app_dir, volumes, namespace=setup, helper=self.helper)

    def wipe_tmp(self) -> None:
        """Delete every instance's `tmp` files (`<state>/volumes/app/*/*/tmp`)."""
        for folder in (self.state_root / VOLUMES / "app").glob("*/*/tmp"):
            shutil.rmtree(folder, ignore_errors=True)

    def wipe_instance_tmp(self, group: GroupPlan, index: int) -> None:
        """Delete the `tmp` files of one instance (it was scaled away)."""
        for volume in instance_volumes(group, index, self.state_root, self.network_storage):
            if volume.mount.source == "tmp":
                shutil.rmtree(self.state_root / VOLUMES / volume.mount.volume / str(index), ignore_errors=True)


def points_dir(state_root: Path, group: GroupPlan, paths: Sequence[str]) -> Path:
    """The folder of `group`'s mount points `paths` (named by them: one in use is never changed)."""
    digest = hashlib.sha256("\0".join(sorted(paths)).encode()).hexdigest()[:12]
    return state_root / "points" / group.app / f"{group.name}-{digest}"


def prepare(mounts: InstanceMounts) -> None:
    """Make sure the folders of `mounts` exist, and their mount points or view."""
    try:
        for volume in mounts.volumes:
            if not os.path.isdir(volume.folder):  # a stat is cheaper than a mkdir that fails
                os.makedirs(volume.folder, exist_ok=True)
        if mounts.namespace is not None:
            points = mounts.namespace.points
            for volume in mounts.volumes:
                point = mount_point(mounts.build_dir, mounts.volumes, volume.path)
                if points and point == mounts.build_dir / volume.path:
                    if os.path.lexists(point) and not os.path.isdir(point):
                        raise FileExistsError(errno.EEXIST, "a file is there", str(point))
                    point = Path(points, volume.path)
                if not os.path.isdir(point):
                    os.makedirs(point)
        elif mounts.view is not None:
            build_view(mounts.view, mounts.build_dir, {v.path: v.folder for v in mounts.volumes})
    except FileExistsError as exc:
        raise MountError(
            f"cannot mount at {exc.filename}: a file is there", hint="remove it from the app, or move the mount"
        ) from None
    except OSError as exc:
        raise MountError(f"cannot prepare the mounts: {exc.strerror}: {exc.filename}") from None


def entering(mounts: InstanceMounts | None, argv: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
    """`argv` and the `preexec_fn` that run a command in the instance's namespace (for hooks and
    crons of web.0): ``Popen(argv, preexec_fn=preexec, cwd=mounts.app_dir)``."""
    namespace = mounts.namespace if mounts is not None else None
    if mounts is None or namespace is None:
        return list(argv), None
    if mounts.helper is not None:
        return helper_argv(mounts.helper, namespace, list(argv)), None
    return list(argv), child_setup(namespace, pdeathsig=False)


def open_layout(state_root: Path, plan: ProjectPlan, *, choice: str | None = None) -> MountLayout:
    """The mount layout of this machine; `choice` defaults to `$SUNUP_NAMESPACES`, then auto."""
    wanted = (choice or os.environ.get(ENV_VARIABLE) or "auto").strip().lower()
    shared = storage_services(plan)
    if wanted in _OFF:
        return MountLayout(state_root, Mode.NONE, None, shared)
    if wanted in (Mode.MOUNT.value, Mode.USER.value):
        mode = Mode(wanted)
        reason = probe(mode)
        if reason is not None:
            raise MountError(f"{ENV_VARIABLE}={wanted}: {reason}", hint=f"{ENV_VARIABLE}=auto falls back")
        helper = _helper(state_root, mode)
        return MountLayout(state_root, mode, None, shared, helper, points=probe(mode, helper, points=True) is None)
    if wanted != "auto":
        raise MountError(f"{ENV_VARIABLE}={wanted} is not a choice", hint="auto, mount, user or 0")
    reasons = []
    for mode in (Mode.MOUNT, Mode.USER) if os.geteuid() == 0 else (Mode.USER,):
        reason = probe(mode)
        if reason is None:
            helper = _helper(state_root, mode)
            return MountLayout(state_root, mode, None, shared, helper, points=probe(mode, helper, points=True) is None)
        reasons.append(f"{mode.value}: {reason}")
    warning = (
        f"no mount namespace here ({'; '.join(reasons)}){_restriction()}: the app folder is writable, and each "
        f"instance with mounts runs in a folder of symlinks (docs/mounts.md; {ENV_VARIABLE}=0 silences this)"
    )
    return MountLayout(state_root, Mode.NONE, warning, shared)


def _helper(state_root: Path, mode: Mode) -> Path | None:
    """The compiled `sunup-enter`, if there is a compiler and the program works here.

    `mode` works without it (probed before), so a helper that fails is damaged (emptied, cut):
    it is compiled again once, not left to slow every start down."""
    helper = compile_helper(state_root)
    if helper is not None and probe(mode, helper) is not None:
        helper.unlink(missing_ok=True)
        helper = compile_helper(state_root)
    return helper if helper is not None and probe(mode, helper) is None else None


def _restriction() -> str:
    """A hint when AppArmor forbids unprivileged user namespaces (Ubuntu 23.10 and later)."""
    with contextlib.suppress(OSError):
        if os.geteuid() != 0 and _RESTRICTION.read_text().strip() == "1":
            return "; AppArmor restricts user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=0"
    return ""
