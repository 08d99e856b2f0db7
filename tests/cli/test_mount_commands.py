"""`sunup mount:list`: each mount, its source, who shares it and its folder, from the configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    mounts:
      var: {source: instance, source_path: var}
    web:
      commands: {start: "sleep 100"}
      mounts:
        uploads: {source: storage}
        shared: {source: storage, service: files}
    workers:
      queue:
        commands: {start: "sleep 100"}
      mail:
        commands: {start: "sleep 100"}
        mounts: {}
  api:
    type: "composable:25.05"
    source: {root: api}
    web:
      commands: {start: "sleep 100"}
      mounts:
        files: {source: service, service: nfs, source_path: api}
services:
  nfs:
    type: network-storage:2.0
"""


@pytest.fixture
def project(make_project: Callable[..., Path]) -> Path:
    return make_project({".upsun/config.yaml": CONFIG, "api/index.sh": ""})


def sunup(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "sunup", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_web_mounts_by_default_with_their_folders(project: Path) -> None:
    """Without --worker, the web instances' mounts: path, source, sharers and host folder."""
    result = sunup(project, "mount:list", "-A", "app")
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()[1:]]
    assert [r[0] for r in rows] == ["uploads", "shared"]
    state = project / ".sunup"
    assert str(state / "volumes/app/app/web/storage/uploads") in result.stdout
    assert str(state / "volumes/service/files/shared") in result.stdout
    assert "every web instance of app" in result.stdout


def test_json_maps_every_instance_to_its_folder(project: Path) -> None:
    """--json: per-instance scopes give each instance its own folder (counts from resources:set)."""
    assert sunup(project, "resources:set", "--count", "app--queue:2").returncode == 0
    result = sunup(project, "mount:list", "--worker", "app--queue", "--json")
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout)
    state = project / ".sunup"
    assert item["path"] == "var" and item["scope"] == "instance" and item["shared_by"] == "one instance (kept)"
    assert item["folders"] == {
        "queue.0": str(state / "volumes/app/app/queue/instance/0/var"),
        "queue.1": str(state / "volumes/app/app/queue/instance/1/var"),
    }


def test_a_network_storage_mount_uses_the_service_folder(project: Path) -> None:
    """`source: service` mounts the network-storage service's own folder (its source_path inside)."""
    result = sunup(project, "mount:list", "-A", "api", "--json")
    (item,) = json.loads(result.stdout)
    assert item["folders"] == {"web.0": str(project / ".sunup/services/nfs/data/api")}


def test_a_worker_without_mounts_says_so(project: Path) -> None:
    """`mounts: {}` in a worker: nothing to list, and the command says so."""
    result = sunup(project, "mount:list", "--worker", "mail", "-A", "app")
    assert result.returncode == 0
    assert "app--mail has no mounts" in result.stderr + result.stdout


def test_all_lists_every_group_of_the_app(project: Path) -> None:
    """--all: web's and every worker's mounts, each row naming its group."""
    result = sunup(project, "mount:list", "-A", "app", "--all")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()]
    assert names == ["app", "app", "app--queue"]
