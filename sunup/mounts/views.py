"""Without namespaces: each instance that has mounts runs in a view of its app folder.

A view is a folder of symlinks: one to each entry of the app folder, except along mount paths,
where it has real folders, and at each mount path a symlink to that mount's folder on the host.
So two instances see their own `instance` and `tmp` folders at the same relative path, and a
worker does not see web's mounts. What is lost against a namespace: the app folder is writable
(through the symlinks), and PLATFORM_APP_DIR is the view, not the build folder.

    <state>/views/<app>/<group>.<index>/         PLATFORM_APP_DIR of the instance
      web.py   -> <build>/app/web.py
      uploads  -> <state>/volumes/app/app/web/storage/uploads
      var/                                       a real folder: a mount is inside
        cache  -> <state>/volumes/app/app/web/tmp/0/var/cache
        log    -> <build>/app/var/log
    <state>/views/<app>/<group>.<index>.json     what the view was made from

A view is made again when its app folder or its mounts change. A mount inside another mount is a
symlink inside the outer mount's folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from sunup.atomicfile import write_atomically

VIEWS = "views"


def view_dir(state_root: Path, app: str, instance_name: str) -> Path:
    """The view of one instance (``queue.1``) of `app`."""
    return state_root / VIEWS / app / instance_name


def build_view(view: Path, app_dir: Path, links: Mapping[str, Path]) -> None:
    """Make `view` show `app_dir` with each mount path of `links` (relative path → host folder)
    as a symlink to its folder; nothing is done when the view is already that."""
    record = view.with_name(view.name + ".json")
    wanted = json.dumps({"app_dir": str(app_dir), "links": {k: str(v) for k, v in sorted(links.items())}})
    try:
        if record.read_bytes() == wanted.encode() and view.is_dir():
            return
    except OSError:  # none, or unreadable: the view is made again (as for any other difference)
        pass
    if view.is_symlink() or view.is_file():
        view.unlink()
    elif view.exists():
        shutil.rmtree(view)
    view.mkdir(parents=True)
    paths = {PurePosixPath(p): folder for p, folder in links.items()}
    outermost = {p: f for p, f in paths.items() if not any(q in p.parents for q in paths)}
    _fill(view, app_dir, outermost, PurePosixPath())
    for path, folder in paths.items():
        if path not in outermost:
            outer = max((q for q in paths if q in path.parents), key=lambda q: len(q.parts))
            place = paths[outer] / path.relative_to(outer)
            if not place.is_symlink() and not place.exists():
                place.parent.mkdir(parents=True, exist_ok=True)
                place.symlink_to(folder)
    write_atomically(record, wanted, durable=False)  # never half; one lost makes the view again


def _fill(view: Path, source: Path, links: Mapping[PurePosixPath, Path], prefix: PurePosixPath) -> None:
    """Symlinks in `view` to the entries of `source` (the app folder at `prefix`), with mounts."""
    along = {p.parts[len(prefix.parts)] for p in links if prefix in p.parents}
    try:
        entries = set(os.listdir(source)) if source.is_dir() else set()
    except OSError:
        entries = set()
    for name in sorted(entries | along):
        relative = prefix / name
        if relative in links:
            (view / name).symlink_to(links[relative])
        elif name in along:
            (view / name).mkdir()
            _fill(view / name, source / name, links, relative)
        else:
            (view / name).symlink_to(source / name)
