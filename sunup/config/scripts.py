"""Checks that read the app's files: a `passthru` script that is not in the app (spec §11, §12).

``passthru: "/index.php"`` sends the requests no file answers to that script, found as the URL
``/index.php`` is: under the root of the location whose prefix is the longest that matches it
(Drupal's ``/sites/default/files`` location passes through to the ``/`` location's
``web/index.php``). When that file is not in the app's source, every such request is a 404 at
run time.

**Decision**: a warning, not an error. The platform accepts and deploys the configuration (the
404 comes at run time), and the script is often made by the build: Drupal's composer scaffold
writes ``web/index.php`` during ``composer install``, a build hook may generate a front
controller. The warning says which case applies: the build may create it (a build hook, or the
composer flavor with a ``composer.json``), or nothing will.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sunup.config.diagnostics import Diagnostics
from sunup.config.yamlfile import DataPath, Positions, render_path
from sunup.plan.locations import LEGACY_KEYS, web_locations
from sunup.plan.model import LocationPlan


def check_scripts(
    root: Path,
    data: Mapping[str, Any],
    positions: Positions,
    diagnostics: Diagnostics,
    app_dirs: Mapping[str, str] | None = None,
) -> None:
    """Warn for each `passthru` script of a PHP app that its source does not have."""
    apps = data.get("applications")
    if not isinstance(apps, Mapping):
        return
    for name, app in apps.items():
        if isinstance(app, Mapping) and _is_php(app):
            source = root / _source_root(app, (app_dirs or {}).get(str(name)))
            _check_app(source, str(name), app, positions, diagnostics)


def _is_php(app: Mapping[str, Any]) -> bool:
    app_type = app.get("type")
    if isinstance(app_type, str):
        return app_type.split(":", maxsplit=1)[0] == "php"
    stack = app.get("stack")
    return isinstance(stack, list) and any(str(item).startswith("php") for item in stack)


def _source_root(app: Mapping[str, Any], app_dir: str | None) -> str:
    source = app.get("source")
    written = source.get("root") if isinstance(source, Mapping) else None
    return written.strip().strip("/") if isinstance(written, str) else (app_dir or "")


def _check_app(source: Path, name: str, app: Mapping[str, Any], positions: Positions, diagnostics: Diagnostics) -> None:
    web = app.get("web")
    if not isinstance(web, Mapping) or not source.is_dir():
        return
    locations = web_locations(web)
    written = web.get("locations")
    legacy = not (isinstance(written, Mapping) and written) and any(key in web for key in LEGACY_KEYS)
    for location in locations:
        script = location.passthru
        if not isinstance(script, str) or not script.startswith("/"):
            continue
        owner = _owner(locations, script)
        if owner is None or owner.root is None:
            continue  # no folder serves that URL: the app answers it, not a file
        relative = Path(owner.root, script[len(owner.path.rstrip("/")) :].lstrip("/"))
        if (source / relative).is_file():
            continue
        path: DataPath = ("applications", name, "web") + (
            ("passthru",) if legacy else ("locations", location.path, "passthru")
        )
        diagnostics.warning(
            "passthru-missing",
            f"passthru script '{script}' of application '{name}' is not in the app: {relative} does not exist",
            positions.value(path),
            path=render_path(path),
            hint=_hint(source, app, relative),
        )


def _owner(locations: tuple[LocationPlan, ...], url: str) -> LocationPlan | None:
    """The location that serves `url`: the longest prefix that matches (`locations` are longest
    first)."""
    for location in locations:
        prefix = location.path.rstrip("/")
        if url == prefix or url.startswith(prefix + "/"):
            return location
    return None


def _hint(source: Path, app: Mapping[str, Any], relative: Path) -> str:
    hooks = app.get("hooks")
    build = app.get("build")
    flavor = build.get("flavor") if isinstance(build, Mapping) else None
    makers = []
    if isinstance(hooks, Mapping) and hooks.get("build"):
        makers.append("the build hook")
    if (source / "composer.json").is_file() and str(flavor or "composer").lower() in ("composer", "default"):
        makers.append("composer install")
    if makers:
        return (
            f"unless {' or '.join(makers)} creates {relative}, requests that no file answers get 404 "
            "(sunup warns, the platform deploys it)"
        )
    return (
        f"nothing in the build creates it: requests that no file answers will get 404; add {relative} "
        "or fix the location's `root` or `passthru`"
    )
