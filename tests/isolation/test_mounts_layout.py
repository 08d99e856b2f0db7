"""Each instance's mounts on this machine: its folder, its binds or view, folders made, tmp wiped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sunup.mounts.layout import MountError, MountLayout, prepare
from sunup.mounts.namespace import Bind, Mode
from sunup.plan.model import GroupPlan, MountPlan, MountScope
from sunup.supervisor.testing import group_plan

DATA = MountPlan("data", "storage", MountScope.GROUP, "data", None, "app/app/queue/storage")
SCRATCH = MountPlan("var/scratch", "tmp", MountScope.TMP, "scratch", None, "app/app/queue/tmp")


def queue(*mounts: MountPlan) -> GroupPlan:
    return dataclasses.replace(group_plan("queue", "work"), mounts=mounts)


def test_the_namespace_binds_each_folder_at_its_path(tmp_path: Path) -> None:
    """In a namespace the instance runs in the build folder, each volume bound at its mount path."""
    build, state = tmp_path / "build", tmp_path / "state"
    build.mkdir()
    mounts = MountLayout(state, Mode.MOUNT).instance(queue(SCRATCH, DATA), 2, build)
    assert mounts.app_dir == build and mounts.view is None
    assert mounts.namespace is not None
    assert mounts.namespace.binds == (
        Bind(str(state / "volumes/app/app/queue/storage/data"), str(build / "data")),
        Bind(str(state / "volumes/app/app/queue/tmp/2/scratch"), str(build / "var/scratch")),
    )
    prepare(mounts)
    assert (build / "var" / "scratch").is_dir() and (state / "volumes/app/app/queue/tmp/2/scratch").is_dir()


def test_a_state_folder_inside_the_app_folder_stays_writable(tmp_path: Path) -> None:
    """Without a build (the source folder runs), sunup's state inside it is bound writable first."""
    state = tmp_path / ".sunup"
    mounts = MountLayout(state, Mode.USER).instance(queue(DATA), 0, tmp_path)
    assert mounts.namespace is not None
    assert mounts.namespace.binds[0] == Bind(str(state), str(state))


def test_without_namespaces_only_instances_with_mounts_get_a_view(tmp_path: Path) -> None:
    """The fallback runs instances without mounts in the build; the others in their own view."""
    build, state = tmp_path / "build", tmp_path / "state"
    build.mkdir()
    layout = MountLayout(state, Mode.NONE)
    plain = layout.instance(queue(), 0, build)
    assert (plain.app_dir, plain.namespace, plain.view) == (build, None, None)
    viewed = layout.instance(queue(DATA), 1, build)
    assert viewed.app_dir == state / "views" / "app" / "queue.1" == viewed.view
    prepare(viewed)
    assert (viewed.app_dir / "data").resolve() == state / "volumes/app/app/queue/storage/data"


def test_a_file_where_a_mount_goes_is_a_clear_error(tmp_path: Path) -> None:
    """The build has a file at the mount path: the start fails and says where."""
    build = tmp_path / "build"
    build.mkdir()
    (build / "data").write_text("not a folder")
    mounts = MountLayout(tmp_path / "state", Mode.MOUNT).instance(queue(DATA), 0, build)
    with pytest.raises(MountError, match="a file is there"):
        prepare(mounts)


def test_tmp_is_wiped_and_persistent_folders_are_kept(tmp_path: Path) -> None:
    """`wipe_tmp` (at up and down) deletes every instance's tmp files and nothing else;
    `wipe_instance_tmp` (scale-down) deletes one instance's."""
    state = tmp_path / "state"
    layout = MountLayout(state, Mode.MOUNT)
    group = queue(DATA, SCRATCH)
    for index in (0, 1):
        for volume in layout.instance(group, index, tmp_path).volumes:
            volume.folder.mkdir(parents=True, exist_ok=True)
    layout.wipe_instance_tmp(group, 1)
    assert not (state / "volumes/app/app/queue/tmp/1").exists()
    assert (state / "volumes/app/app/queue/tmp/0/scratch").is_dir()
    layout.wipe_tmp()
    assert not (state / "volumes/app/app/queue/tmp").exists()
    assert (state / "volumes/app/app/queue/storage/data").is_dir()
