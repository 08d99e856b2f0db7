"""The fallback without namespaces: each instance with mounts runs in a view made of symlinks."""

from __future__ import annotations

import os
from pathlib import Path

from sunup.mounts.views import build_view


def test_a_view_links_the_app_and_puts_each_mount_at_its_path(tmp_path: Path) -> None:
    """Entries of the app folder are symlinks; folders along a mount path are real; mounts point
    to their host folders and hide what the build had there."""
    app = tmp_path / "app"
    (app / "var" / "log").mkdir(parents=True)
    (app / "web.py").write_text("print()\n")
    (app / "uploads").mkdir()
    (app / "uploads" / "from-build").write_text("x")
    uploads, cache = tmp_path / "vol" / "uploads", tmp_path / "vol" / "cache"
    uploads.mkdir(parents=True)
    cache.mkdir()
    view = tmp_path / "views" / "web.0"
    build_view(view, app, {"uploads": uploads, "var/cache": cache})
    assert os.readlink(view / "web.py") == str(app / "web.py")
    assert os.readlink(view / "uploads") == str(uploads)
    assert not (view / "uploads" / "from-build").exists()
    assert (view / "var").is_dir() and not (view / "var").is_symlink()
    assert os.readlink(view / "var" / "log") == str(app / "var" / "log")
    assert os.readlink(view / "var" / "cache") == str(cache)
    (view / "uploads" / "new").write_text("kept")
    assert (uploads / "new").read_text() == "kept"


def test_a_view_is_made_again_only_when_its_app_or_mounts_change(tmp_path: Path) -> None:
    """An unchanged view is left alone (same inode); another app folder makes a new one."""
    first, second = tmp_path / "build1", tmp_path / "build2"
    for folder in (first, second):
        folder.mkdir()
        (folder / "main.sh").write_text("")
    volume = tmp_path / "data"
    volume.mkdir()
    view = tmp_path / "views" / "queue.1"
    build_view(view, first, {"data": volume})
    inode = view.stat().st_ino
    build_view(view, first, {"data": volume})
    assert view.stat().st_ino == inode
    build_view(view, second, {"data": volume})
    assert os.readlink(view / "main.sh") == str(second / "main.sh")


def test_a_mount_inside_a_mount_is_a_symlink_in_the_outer_folder(tmp_path: Path) -> None:
    """`web/uploads/thumbs` inside the `web/uploads` mount links from inside the outer mount's folder."""
    app = tmp_path / "app"
    app.mkdir()
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    outer.mkdir()
    inner.mkdir()
    view = tmp_path / "view"
    build_view(view, app, {"web/uploads": outer, "web/uploads/thumbs": inner})
    assert os.readlink(view / "web" / "uploads") == str(outer)
    assert os.readlink(outer / "thumbs") == str(inner)
