"""`sunup up` of PHP apps whose configuration asks what this machine cannot give, or takes away
what it has: real `sunup up -d`, real FPM and CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.php.conftest import NEEDS_FPM
from tests.php.rig import PhpProject

pytestmark = [pytest.mark.slow, NEEDS_FPM]

BASE = """\
applications:
  app:
    type: php:8.2
    runtime:
{runtime}
    web:
      locations:
        /:
          root: public
          passthru: /index.php
routes:
  "http://{{default}}/":
    type: upstream
    upstream: app:http
"""
INDEX = "<?php echo implode(',', array_map('strtolower', get_loaded_extensions()));\n"


def _project(make_project: Callable[..., Path], tmp_path: Path, runtime: str) -> PhpProject:
    root = make_project({".upsun/config.yaml": BASE.format(runtime=runtime), "public/index.php": INDEX})
    return PhpProject(root, tmp_path / "state")


def test_missing_extension_fails_up_naming_the_package(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = _project(make_project, tmp_path, "      extensions: [redis, imagick, blackfire]")
    done = project.sunup("up", "-d", timeout=120)
    try:
        assert done.returncode == 1, done.stdout + done.stderr
        said = done.stdout + done.stderr
        assert "app app: runtime.extensions asks for 'imagick', not installed for PHP 8.2 here" in said
        assert "apt-get install php8.2-imagick" in said
        assert "Traceback" not in said
        # Nothing left running: no FPM of this project.
        left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False)
        assert left.stdout.strip() == "", left.stdout
    finally:
        project.sunup("down", timeout=120)


def test_disabled_extension_is_gone_from_fpm_and_the_cli(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = _project(
        make_project, tmp_path, "      extensions: [pdo_pgsql]\n      disabled_extensions: [redis, json]"
    )
    done = project.sunup("up", "-d", timeout=120)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert (
            "runtime.disabled_extensions: 'json' is built into PHP 8.2, it cannot be disabled"
            in done.stdout + done.stderr
        )
        status, body = project.raw("/")
        assert status == 200, body
        loaded = set(body.decode().split(","))
        assert "redis" not in loaded and {"pdo_pgsql", "json"} <= loaded
        shell = project.sunup("ssh", "--", "php", "-m", timeout=60)
        assert shell.returncode == 0, shell.stderr
        modules = {line.strip().lower() for line in shell.stdout.splitlines()}
        assert "redis" not in modules and "pdo_pgsql" in modules
        # The system's own PHP is untouched.
        system = subprocess.run(
            ["php", "-m"], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}
        )
        assert "redis" in system.stdout.lower().split()
    finally:
        project.sunup("down", timeout=120)


def test_deploy_asking_a_missing_extension_keeps_the_running_fpm(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """The build checks runtime.extensions: the deploy fails before it stops anything."""
    project = _project(make_project, tmp_path, "      extensions: [redis]")
    done = project.sunup("up", "-d", timeout=120)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        before = project.ps()[0]["pid"]
        config = project.root / ".upsun" / "config.yaml"
        config.write_text(config.read_text().replace("extensions: [redis]", "extensions: [redis, imagick]"))
        deploy = project.sunup("deploy", timeout=120)
        assert deploy.returncode == 1, deploy.stdout + deploy.stderr
        assert "apt-get install php8.2-imagick" in deploy.stdout + deploy.stderr
        assert "stopping the running instances" not in deploy.stdout + deploy.stderr
        assert project.ps()[0]["pid"] == before
        status, body = project.raw("/")
        assert status == 200 and b"redis" in body
    finally:
        project.sunup("down", timeout=120)


def test_fpm_on_a_tcp_port_when_the_app_says_so(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """`web.upstream.socket_family: tcp`: the pool listens on the instance's PORT instead."""
    config = BASE.format(runtime="      extensions: [redis]").replace(
        "    web:\n", "    web:\n      upstream:\n        socket_family: tcp\n"
    )
    root = make_project({".upsun/config.yaml": config, "public/index.php": INDEX})
    project = PhpProject(root, tmp_path / "state")
    done = project.sunup("up", "-d", timeout=120)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        web = project.ps()[0]
        assert web["port"], web
        status, body = project.raw("/")
        assert status == 200 and b"redis" in body
    finally:
        project.sunup("down", timeout=120)
