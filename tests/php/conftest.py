"""The running PHP project of tests/php (one per module: each module may run in its own worker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import project_maker
from tests.php.rig import PhpProject, files

TWO_LAYERS = """\
  "http://{default}/elsewhere/":
    type: upstream
    upstream: app:http
"""
NEEDS_FPM = pytest.mark.skipif(not Path("/usr/sbin/php-fpm8.2").exists(), reason="needs Debian's php8.2-fpm")


@pytest.fixture(scope="module", params=["one-hop", "two-layers"])
def php_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhpProject]:
    """The project, its app's web server in the route's own server (one route on its host), or
    behind the router's layer (a path route on the same host keeps the two)."""
    base = tmp_path_factory.mktemp("php")
    project_files = files()
    if request.param == "two-layers":
        project_files[".upsun/config.yaml"] += TWO_LAYERS
    root = project_maker(base)(project_files)
    (root / "public" / "link-out.php").symlink_to(root / "secret.php")
    (root / "public" / "link-dir").symlink_to(root)
    project = PhpProject(root, base / "state")
    started = project.sunup("up", "-d")
    try:
        assert started.returncode == 0, f"sunup up -d failed:\n{started.stdout}\n{started.stderr}"
        project.started = started  # type: ignore[attr-defined]
        yield project
    finally:
        down = project.sunup("down", timeout=120)
        assert down.returncode == 0, down.stderr
