"""A `passthru` script that is not in the app is a warning at validate time (sunup.config.scripts)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sunup.config import read_config

UPSUN = """\
applications:
  app:
    type: "php:8.2"
{extra}
    web:
      locations:
        "/":
          root: "web"
          passthru: "/index.php"
        "/sites/default/files":
          root: "web/sites/default/files"
          passthru: "/index.php"
"""


def _warnings(root: Path) -> list[object]:
    loaded = read_config(root)
    assert not loaded.diagnostics.has_errors(), list(loaded.diagnostics.errors)
    return [d for d in loaded.diagnostics.warnings if d.code == "passthru-missing"]


def test_missing_script_is_a_warning_with_position(make_project: Callable[..., Path]) -> None:
    """Both locations pass through to /index.php, which the `/` location serves from web/: one
    warning per location naming web/index.php, at the passthru value (file, line, column)."""
    root = make_project({".upsun/config.yaml": UPSUN.format(extra="")})
    found = sorted(_warnings(root), key=lambda d: d.mark.line)  # type: ignore[attr-defined]
    assert len(found) == 2, found
    first = found[0]
    assert "web/index.php does not exist" in first.message  # type: ignore[attr-defined]
    assert first.path == 'applications.app.web.locations."/".passthru'  # type: ignore[attr-defined]
    mark = first.mark  # type: ignore[attr-defined]
    assert (mark.file, mark.line) == (".upsun/config.yaml", 9)  # line 4 is the empty {extra}
    assert mark.column > 1
    assert "nothing in the build creates it" in (first.hint or "")  # type: ignore[attr-defined]
    # The nested location's script is the "/" location's file, not web/sites/default/files/index.php.
    assert "web/index.php does not exist" in found[1].message  # type: ignore[attr-defined]


def test_present_script_no_warning(make_project: Callable[..., Path]) -> None:
    root = make_project({".upsun/config.yaml": UPSUN.format(extra=""), "web/index.php": "<?php\n"})
    assert _warnings(root) == []


def test_script_the_build_may_make_says_so(make_project: Callable[..., Path]) -> None:
    """With a composer.json (Drupal's scaffold writes web/index.php) or a build hook, the hint
    says the build must create it."""
    root = make_project(
        {
            ".upsun/config.yaml": UPSUN.format(extra='    hooks:\n      build: "make-front-controller"'),
            "composer.json": "{}",
        }
    )
    hint = _warnings(root)[0].hint or ""  # type: ignore[attr-defined]
    assert "unless the build hook or composer install creates web/index.php" in hint


def test_not_php_not_checked(make_project: Callable[..., Path]) -> None:
    root = make_project({".upsun/config.yaml": UPSUN.format(extra="").replace("php:8.2", "python:3.12")})
    assert _warnings(root) == []


def test_legacy_passthru_key(make_project: Callable[..., Path]) -> None:
    """Platform.sh's older `web.document_root` + `web.passthru`, in a sub-folder app."""
    legacy = 'name: app\ntype: "php:8.2"\nweb:\n  document_root: "/public"\n  passthru: "/app.php"\n'
    root = make_project(
        {
            ".platform/routes.yaml": '"https://{default}/":\n  type: upstream\n  upstream: "app:http"\n',
            "api/.platform.app.yaml": legacy,
        }
    )
    found = _warnings(root)
    assert len(found) == 1 and "public/app.php does not exist" in found[0].message  # type: ignore[attr-defined]
    assert found[0].mark.file == "api/.platform.app.yaml"  # type: ignore[attr-defined]
    (root / "api" / "public").mkdir()
    (root / "api" / "public" / "app.php").write_text("<?php\n")
    assert _warnings(root) == []


def test_validate_shows_it_and_succeeds(make_project: Callable[..., Path]) -> None:
    """`sunup validate`: the warning with file:line:col, and exit status 0 (the platform deploys it)."""
    root = make_project({".upsun/config.yaml": UPSUN.format(extra="")})
    done = subprocess.run(
        [sys.executable, "-m", "sunup", "validate"], cwd=root, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shown = done.stdout + done.stderr
    assert ".upsun/config.yaml:9:" in shown and "passthru script '/index.php'" in shown, shown
