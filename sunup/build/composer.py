"""PHP builds: the `composer` build flavor and `dependencies.php` (spec §12).

- The flavor: for a PHP app (``type: php:*``, or a composable stack with PHP) whose source has a
  ``composer.json``, the build runs `INSTALL_ARGV` in the app folder before the build hook, as the
  platform does; ``build.flavor: none`` skips it.
- ``dependencies.php``: global Composer packages (``composer global require``), whose ``bin``
  folder is on PATH in the build and in every instance. ``composer/composer`` (most PHP templates
  ask for ``^2``, to get a newer Composer than the image's) is satisfied by this machine's
  Composer when its major version fits: nothing is downloaded for it.
- The platform's other form, ``dependencies.php: {require: {...}, repositories: [...]}``, installs
  `require` from those repositories (written into the global ``composer.json``); a ``path``
  repository's relative ``url`` is read from the app's folder (on one machine, the only folder it
  can mean).
- Composer's home (global packages, its config) and its cache live in the build's cache folder
  (`PLATFORM_CACHE_DIR`), never in the app, whose folder is the build's HOME.
- Packagist is often not reachable from a development machine (nor from this project's CI): a
  Composer command that fails for that reason is reported as such (`unreachable_registry`), naming
  the registry and the ways around it, instead of Composer's trace.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sunup.plan.model import AppPlan

#: The platform's composer flavor, word for word.
INSTALL_ARGV = (
    "composer",
    "--no-ansi",
    "--no-interaction",
    "install",
    "--no-progress",
    "--prefer-dist",
    "--optimize-autoloader",
    "--no-dev",
)
#: Flavors that run `INSTALL_ARGV` (``default`` is the older name of the PHP one).
COMPOSER_FLAVORS = ("composer", "default")
#: Words of Composer's output when it could not fetch something over the network.
_NETWORK_FAILURE = re.compile(
    r"could not be downloaded|getaddrinfo|could not resolve host|failed to open stream|curl error"
    r"|connection refused|network is unreachable|connection timed out|operation timed out",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://([A-Za-z0-9.-]+)")


def is_php(app: AppPlan) -> bool:
    """True for ``type: php:*`` and for a composable stack that has PHP."""
    if app.runtime == "php":
        return True
    return app.runtime == "composable" and any(item.startswith("php") for item in app.stack)


def runs_flavor(app: AppPlan, app_dir: Path) -> bool:
    """Whether the build runs the composer flavor: a PHP app, a ``composer.json``, and a flavor
    that is unset (the PHP default) or ``composer``."""
    flavor = (app.build_flavor or "composer").strip().lower()
    return is_php(app) and flavor in COMPOSER_FLAVORS and (app_dir / "composer.json").is_file()


def unknown_flavor(app: AppPlan) -> str | None:
    """What to say about a `build.flavor` of a PHP app that sunup does not run (None: nothing)."""
    flavor = (app.build_flavor or "composer").strip().lower()
    if not is_php(app) or flavor in (*COMPOSER_FLAVORS, "none"):
        return None
    return f"build flavor '{app.build_flavor}' is not one sunup runs (it runs 'composer' and 'none'); skipped"


def composer_home(cache: Path) -> Path:
    """``COMPOSER_HOME`` of a build whose cache folder is `cache`: global packages go there."""
    return cache / "composer-home"


def global_bin(cache: Path) -> Path:
    """The folder of the global packages' commands (on PATH in the build and the instances)."""
    return composer_home(cache) / "vendor" / "bin"


def local_composer_version(path: str | None = None) -> str:
    """The version of this machine's `composer` (``2.5.5``), "" when there is none."""
    program = shutil.which("composer", path=path)
    if program is None:
        return ""
    try:
        result = subprocess.run(
            [program, "--no-ansi", "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = re.search(r"Composer (?:version )?(\d+\.\d+\.\d+)", result.stdout)
    return found.group(1) if found else ""


def satisfied_by(constraint: str, version: str) -> bool:
    """Whether `version` (``2.5.5``) meets a Composer constraint written on one major version:
    ``*``, ``^2``, ``~2.1``, ``2.*``, ``2``, ``>=2``, ``2.x-dev``... (the forms templates use).
    Anything else is not taken as met: the package is then installed by Composer."""
    if not version:
        return False
    written = constraint.strip()
    if written in ("", "*"):
        return True
    major = version.split(".", maxsplit=1)[0]
    found = re.fullmatch(r"(\^|~|>=)?v?(\d+)(?:\.(\d+|\*|x))?(?:\.(\d+|\*|x))?(?:-dev)?", written)
    if found is None:
        return False
    operator, wanted = found.group(1), found.group(2)
    if operator == ">=":
        return int(major) >= int(wanted) and _at_least(version, written[2:])
    return major == wanted and _at_least(version, written.lstrip("^~v"))


def _at_least(version: str, written: str) -> bool:
    """`version` is not older than the numbers of `written` (``2.1`` of ``^2.1``)."""
    numbers = [int(part) for part in re.findall(r"\d+", written.split("-", maxsplit=1)[0])]
    have = [int(part) for part in version.split(".")]
    return have[: len(numbers)] >= numbers


def php_dependencies(app: AppPlan) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """``dependencies.php`` as written: the packages (plain entries and those of `require`) and
    the `repositories`."""
    dependencies = app.config.get("dependencies")
    written = dependencies.get("php") if isinstance(dependencies, Mapping) else None
    if not isinstance(written, Mapping):
        return {}, []
    packages = {str(k): str(v) for k, v in written.items() if k not in ("require", "repositories") and v is not None}
    require = written.get("require")
    if isinstance(require, Mapping):
        packages.update({str(k): str(v) for k, v in require.items() if v is not None})
    repositories = written.get("repositories")
    found = [dict(r) for r in repositories if isinstance(r, Mapping)] if isinstance(repositories, list) else []
    return packages, found


def write_global_manifest(home: Path, repositories: list[dict[str, Any]], app_dir: Path) -> None:
    """The global ``composer.json`` with `repositories` (relative `path` URLs made absolute from
    `app_dir`), so that ``composer global require`` looks there."""
    resolved = []
    for repository in repositories:
        entry = dict(repository)
        url = entry.get("url")
        if entry.get("type") == "path" and isinstance(url, str) and not url.startswith("/"):
            entry["url"] = str(app_dir / url)
        resolved.append(entry)
    home.mkdir(parents=True, exist_ok=True)
    (home / "composer.json").write_text(json.dumps({"repositories": resolved}, indent=2) + "\n")


def global_packages(specs: Mapping[str, str], local_version: str) -> tuple[list[tuple[str, str]], str | None]:
    """The packages of ``dependencies.php`` that ``composer global require`` must install, and a
    note when ``composer/composer`` is left out because this machine's Composer meets it."""
    wanted = [(str(name), str(version)) for name, version in specs.items()]
    note = None
    kept = []
    for name, version in wanted:
        if name.lower() == "composer/composer" and satisfied_by(version, local_version):
            note = f"composer/composer {version}: using this machine's Composer {local_version}"
            continue
        kept.append((name, version))
    return kept, note


def require_argv(packages: Iterable[tuple[str, str]]) -> list[str]:
    """``composer global require`` of `packages` (``name:constraint``; ``*`` means any)."""
    return [
        "composer",
        "--no-ansi",
        "--no-interaction",
        "global",
        "require",
        "--no-progress",
        *(name if version in ("*", "") else f"{name}:{version}" for name, version in packages),
    ]


def unreachable_registry(lines: Iterable[str]) -> str | None:
    """The host Composer could not reach (``repo.packagist.org``), from its output; None when it
    failed for another reason."""
    failed = False
    for line in lines:
        if _NETWORK_FAILURE.search(line):
            failed = True
            host = _URL.search(line)
            if host:
                return host.group(1)
    return "the package registry" if failed else None


def registry_hint(log: Path) -> str:
    """What to do when the registry cannot be reached, and where the whole output is."""
    return (
        "this machine cannot download Composer packages: vendor them (commit vendor/ and set "
        "`build.flavor: none`), or point composer.json at local copies with a `path` repository "
        '({"type": "path", "url": "packages/<name>"}); '
        f"the whole output is in {log} (sunup logs build)"
    )
