"""Where each mount's files live on the host and who shares them (spec §4), as pure functions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sunup.mounts.volumes import host_folder, instance_volumes, mount_point, shared_by
from sunup.plan.model import MountPlan, MountScope
from sunup.supervisor.testing import group_plan

STATE = Path("/state")


def mount(
    path: str, source: str, scope: MountScope, volume: str, source_path: str = "", service: str | None = None
) -> MountPlan:
    return MountPlan(path, source, scope, source_path, service, volume)


@pytest.mark.parametrize(
    ("plan", "index", "expected"),
    [
        (
            mount("uploads", "storage", MountScope.GROUP, "app/app/web/storage", "uploads"),
            0,
            "volumes/app/app/web/storage/uploads",
        ),
        (
            mount("uploads", "storage", MountScope.GROUP, "app/app/web/storage", "uploads"),
            3,
            "volumes/app/app/web/storage/uploads",
        ),
        (mount("var", "storage", MountScope.GROUP, "app/app/web/storage", ""), 0, "volumes/app/app/web/storage"),
        (
            mount("local", "instance", MountScope.INSTANCE, "app/app/queue/instance", "local"),
            2,
            "volumes/app/app/queue/instance/2/local",
        ),
        (
            mount("scratch", "tmp", MountScope.TMP, "app/app/queue/tmp", "scratch"),
            1,
            "volumes/app/app/queue/tmp/1/scratch",
        ),
        (
            mount("shared", "storage", MountScope.SERVICE, "service/files", "shared", "files"),
            0,
            "volumes/service/files/shared",
        ),
        (mount("files", "service", MountScope.SERVICE, "service/nfs", "x", "nfs"), 0, "services/nfs/data/x"),
        (mount("shared", "storage", MountScope.SERVICE, "service/nfs", "", "nfs"), 5, "services/nfs/data"),
    ],
)
def test_host_folder_of_each_scope(plan: MountPlan, index: int, expected: str) -> None:
    """Shared scopes have one folder whatever the instance, per-instance scopes one per index,
    a network-storage service's mounts use the service's own folder, and source_path is a sub-folder."""
    assert host_folder(plan, index, STATE, {"nfs"}) == STATE / expected


def test_per_instance_mounts_need_an_index() -> None:
    """Asking for an `instance` folder without an instance index is a programming error."""
    with pytest.raises(ValueError, match="needs an instance index"):
        host_folder(mount("local", "instance", MountScope.INSTANCE, "app/app/queue/instance"), None, STATE)


def test_outer_mounts_come_first_and_nested_mount_points_live_in_the_outer_folder() -> None:
    """A mount inside another is bound after it, and its mount point is made in the outer volume."""
    group = group_plan("queue", "work")
    inner = mount("var/cache/img", "storage", MountScope.GROUP, "app/app/queue/storage", "img")
    outer = mount("var/cache", "storage", MountScope.GROUP, "app/app/queue/storage", "cache")
    group = dataclasses.replace(group, mounts=(inner, outer))
    volumes = instance_volumes(group, 0, STATE)
    assert [v.path for v in volumes] == ["var/cache", "var/cache/img"]
    app = Path("/build/app")
    assert mount_point(app, volumes, "var/cache") == app / "var/cache"
    assert mount_point(app, volumes, "var/cache/img") == STATE / "volumes/app/app/queue/storage/cache/img"


def test_who_shares_a_mount_in_words() -> None:
    """`mount:list` names the sharers: web's instances, one worker's, a service's users, or one instance."""
    web, queue = group_plan("web", "serve"), group_plan("queue", "work")
    assert shared_by(mount("u", "storage", MountScope.GROUP, "v"), web) == "every web instance of app"
    assert shared_by(mount("u", "storage", MountScope.GROUP, "v"), queue) == "every instance of app--queue"
    assert shared_by(mount("u", "storage", MountScope.SERVICE, "v", service="files"), queue) == (
        "every instance mounting service 'files'"
    )
    assert shared_by(mount("u", "instance", MountScope.INSTANCE, "v"), queue) == "one instance (kept)"
    assert shared_by(mount("u", "tmp", MountScope.TMP, "v"), queue) == "one instance (wiped at sunup down)"
