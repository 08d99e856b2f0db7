"""Where each mount of an instance lives on the host, and who shares it (spec §4). Pure: no I/O.

    <state>/volumes/app/<app>/<group>/storage/<source_path>        storage: the group's instances
    <state>/volumes/app/<app>/<group>/instance/<index>/<source_path>  instance: one instance, kept
    <state>/volumes/app/<app>/<group>/tmp/<index>/<source_path>       tmp: one instance, wiped at down
    <state>/volumes/service/<service>/<source_path>                 storage + `service:` (a sharing key)
    <state>/services/<service>/data/<source_path>                   a network-storage service's folder

The plan's `MountPlan.volume` names the volume (``app/app/web/storage``, ``service/files``); the
per-instance scopes add the instance index. `source_path` is a sub-folder of the volume ("" is
the whole volume). A `source: service` mount and a `storage` mount naming the same network-storage
service see the same folder: the one the services side creates (`sunup.services.storage`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sunup.plan.model import GroupPlan, MountPlan, MountScope, ProjectPlan

#: The folder of `<state>` holding every volume but network-storage services'.
VOLUMES = "volumes"
#: The kind of service whose own folder backs its mounts.
NETWORK_STORAGE = "network-storage"
#: At most this much in a `tmp` mount on the platform (not enforced by sunup: docs/mounts.md).
TMP_LIMIT_BYTES = 8 * 1024**3


@dataclass(frozen=True, slots=True)
class Volume:
    """One mount of one instance: the plan's mount and the folder on the host behind it."""

    mount: MountPlan
    #: The folder the instance sees at `mount.path` (the volume's `source_path` sub-folder).
    folder: Path
    #: The instance index for the per-instance scopes (instance, tmp), else None.
    index: int | None

    @property
    def path(self) -> str:
        """The mount path relative to the app folder (``web/uploads``)."""
        return self.mount.path


def storage_services(plan: ProjectPlan) -> frozenset[str]:
    """The names of the plan's network-storage services."""
    return frozenset(s.name for s in plan.services if s.kind == NETWORK_STORAGE)


def per_instance(mount: MountPlan) -> bool:
    """Whether each instance has its own folder for `mount` (instance, tmp)."""
    return mount.scope in (MountScope.INSTANCE, MountScope.TMP)


def volume_root(mount: MountPlan, index: int | None, state_root: Path, network_storage: Iterable[str] = ()) -> Path:
    """The whole volume behind `mount` for instance `index` (its `source_path` not applied)."""
    if mount.scope is MountScope.SERVICE and mount.service in frozenset(network_storage):
        return state_root / "services" / str(mount.service) / "data"
    root = state_root / VOLUMES / PurePosixPath(mount.volume)
    if per_instance(mount):
        if index is None:
            raise ValueError(f"the {mount.source} mount {mount.path!r} needs an instance index")
        root = root / str(index)
    return root


def host_folder(mount: MountPlan, index: int | None, state_root: Path, network_storage: Iterable[str] = ()) -> Path:
    """The folder on the host that instance `index` sees at `mount.path`."""
    root = volume_root(mount, index, state_root, network_storage)
    return root / PurePosixPath(mount.source_path) if mount.source_path else root


def instance_volumes(
    group: GroupPlan, index: int, state_root: Path, network_storage: Iterable[str] = ()
) -> tuple[Volume, ...]:
    """Every mount of instance `index` of `group`, outer mounts before the mounts inside them."""
    shared = frozenset(network_storage)
    ordered = sorted(group.mounts, key=lambda m: (m.path.count("/"), m.path))
    return tuple(
        Volume(m, host_folder(m, index, state_root, shared), index if per_instance(m) else None) for m in ordered
    )


def shared_by(mount: MountPlan, group: GroupPlan) -> str:
    """Who sees the files of `mount`, in words (`sunup mount:list`)."""
    if mount.scope is MountScope.GROUP:
        return f"every web instance of {group.app}" if group.is_web else f"every instance of {group.instance_name}"
    if mount.scope is MountScope.SERVICE:
        return f"every instance mounting service '{mount.service}'"
    if mount.scope is MountScope.INSTANCE:
        return "one instance (kept)"
    return "one instance (wiped at sunup down)"


def mount_point(app_dir: Path, volumes: Iterable[Volume], path: str) -> Path:
    """Where the mount point of `path` is on the host: in the app folder, or inside the folder of
    an outer mount that contains it (``web/uploads/thumbs`` inside the ``web/uploads`` mount)."""
    target = PurePosixPath(path)
    outers = [v for v in volumes if PurePosixPath(v.path) in target.parents]
    best = max(outers, key=lambda v: len(PurePosixPath(v.path).parts), default=None)
    if best is None:
        return app_dir / target
    return best.folder / target.relative_to(PurePosixPath(best.path))
