"""`sunup run-instance` (a Kubernetes pod's command) of a PHP app's web: PHP-FPM behind nginx
on the pod's port, as locally: the front controller, a script, static files, php.ini."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.router.runner import find_nginx
from tests.export.test_pod_web_server import _get, pod_web, short_state  # noqa: F401
from tests.php.conftest import NEEDS_FPM

pytestmark = [pytest.mark.slow, NEEDS_FPM, pytest.mark.skipif(find_nginx() is None, reason="needs nginx")]

CONFIG = """\
applications:
  app:
    type: php:8.2
    variables:
      php:
        memory_limit: 99M
    web:
      locations:
        /:
          root: public
          passthru: /index.php
          scripts: true
"""


def test_php_web_in_a_pod(make_project: Callable[..., Path], short_state: Path) -> None:  # noqa: F811
    root = make_project(
        {
            ".upsun/config.yaml": CONFIG,
            "public/index.php": "<?php echo 'front ', $_SERVER['REQUEST_URI'], ' ', ini_get('memory_limit');\n",
            "public/info.php": "<?php echo 'info ', $_SERVER['PATH_INFO'] ?? '';\n",
            "public/a.txt": "static\n",
        },
        name="pod",
    )
    instance, listen = pod_web(root, short_state)
    try:
        instance.wait_for(rf"port {listen} served by nginx \(web\.locations\)")
        base = f"http://127.0.0.1:{listen}"
        assert _get(f"{base}/some/page?x=1") == (200, b"front /some/page?x=1 99M")
        assert _get(f"{base}/info.php/a/b") == (200, b"info /a/b")
        assert _get(f"{base}/a.txt") == (200, b"static\n")
        assert instance.stop() == 0
    finally:
        if instance.process.poll() is None:
            instance.process.kill()
            instance.process.wait(10)
    assert not [line for line in instance.lines if "Traceback" in line]
