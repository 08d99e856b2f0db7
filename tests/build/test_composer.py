"""PHP builds: the composer flavor, `dependencies.php`, and a registry that cannot be reached
(spec §12). Real Composer; nothing is downloaded: packages come from `path` repositories inside
the test's app, or from this machine's Composer (`composer/composer`)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.build import composer
from sunup.build.builder import BuildFailure, BuildResult, build_app
from sunup.config import read_config
from sunup.plan.model import AppPlan
from sunup.plan.resolve import HostFacts, resolve_project

pytestmark = pytest.mark.skipif(
    shutil.which("composer") is None or shutil.which("php") is None, reason="needs php and composer"
)

#: A package with a command, in the app's own folder (a `path` repository points at it).
HELLO_PACKAGE = {
    "packages/hello/composer.json": json.dumps(
        {
            "name": "acme/hello",
            "version": "1.0.0",
            "autoload": {"psr-4": {"Acme\\Hello\\": "src/"}},
            "bin": ["bin/hello"],
        }
    ),
    "packages/hello/src/Greeter.php": "<?php\nnamespace Acme\\Hello;\nfinal class Greeter {\n"
    "    public static function greet(): string { return 'hello from acme'; }\n}\n",
    "packages/hello/bin/hello": "#!/bin/sh\necho hello-command\n",
}
APP_COMPOSER = {
    "name": "acme/app",
    "repositories": [{"type": "path", "url": "packages/hello"}],
    "require": {"acme/hello": "*"},
    "autoload": {"psr-4": {"App\\": "src/"}},
}
CONFIG = """\
applications:
  app:
    type: "php:8.2"
{extra}
    hooks:
      build: |
        set -e
        php -r 'require "vendor/autoload.php"; echo \\App\\Clock::name(), " ", \\Acme\\Hello\\Greeter::greet(), "\\n";' > greeting.txt
        env | sort > build-env.txt
"""


def _plan(root: Path) -> AppPlan:
    loaded = read_config(root)
    assert not loaded.diagnostics.has_errors(), list(loaded.diagnostics.errors)
    return resolve_project(loaded, HostFacts.for_project(root)).apps[0]


def _build(root: Path, builds: Path, lines: list[str] | None = None) -> BuildResult:
    app = _plan(root)
    return build_app(
        app,
        project_root=root,
        builds_dir=builds,
        log_path=builds.parent / "build.log",
        variables={},
        project="p1",
        progress=(lines.append if lines is not None else lambda _line: None),
    )


def _php_project(make_project: Callable[..., Path], extra: str = "", manifest: dict[str, object] | None = None) -> Path:
    files = {
        ".upsun/config.yaml": CONFIG.format(extra=extra),
        "composer.json": json.dumps(manifest or APP_COMPOSER),
        "src/Clock.php": "<?php\nnamespace App;\nfinal class Clock { public static function name(): string "
        "{ return 'clock'; } }\n",
        **HELLO_PACKAGE,
    }
    root = make_project(files)
    (root / "packages/hello/bin/hello").chmod(0o755)
    return root


def test_composer_flavor_installs_and_autoloads(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A PHP app with a composer.json: the build runs the platform's composer install (shown as it
    goes), before the build hook, which can use the autoloader; Composer's home and cache are in
    the build's cache folder, not in the app."""
    root = _php_project(make_project)
    lines: list[str] = []
    result = _build(root, tmp_path / "builds", lines)
    app_dir = result.app_dir
    assert (app_dir / "greeting.txt").read_text() == "clock hello from acme\n"
    assert (app_dir / "vendor" / "autoload.php").is_file()
    assert (app_dir / "vendor" / "bin" / "hello").exists()
    assert any(" ".join(composer.INSTALL_ARGV) in line for line in lines), lines
    assert any("Installing acme/hello" in line for line in lines), "Composer's output is shown as progress"
    env = dict(line.split("=", 1) for line in (app_dir / "build-env.txt").read_text().splitlines() if "=" in line)
    cache = Path(env["PLATFORM_CACHE_DIR"])
    assert env["COMPOSER_HOME"] == str(composer.composer_home(cache))
    assert env["COMPOSER_CACHE_DIR"].startswith(str(cache))
    strays = {".composer", ".config", ".cache", ".local"} & {p.name for p in app_dir.iterdir()}
    assert not strays, f"Composer wrote into the app: {strays}"
    assert not (root / "vendor").exists(), "the build must not write into the working copy"


def test_flavor_none_skips_composer(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """`build.flavor: none`: no composer install (the build hook, which needs vendor/, fails)."""
    root = _php_project(make_project, extra="    build:\n      flavor: none")
    lines: list[str] = []
    with pytest.raises(BuildFailure) as failure:
        _build(root, tmp_path / "builds", lines)
    assert "the build hook" in failure.value.message
    assert not any("composer" in line and "install" in line for line in lines), lines


def test_no_composer_json_no_flavor(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """Without a composer.json nothing of Composer runs."""
    config = 'applications:\n  app:\n    type: "php:8.2"\n    hooks:\n      build: "ls -a > files.txt"\n'
    root = make_project({".upsun/config.yaml": config, "index.php": "<?php echo 1;\n"})
    result = _build(root, tmp_path / "builds")
    assert "vendor" not in (result.app_dir / "files.txt").read_text().split()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_registry_is_named(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A composer.json whose packages must be downloaded from a registry this machine cannot
    reach: the build fails saying so (the registry, what to do), not with Composer's trace."""
    port = _closed_port()
    manifest = {
        "name": "acme/app",
        "repositories": [{"type": "composer", "url": f"https://127.0.0.1:{port}"}, {"packagist.org": False}],
        "require": {"monolog/monolog": "^3"},
    }
    root = _php_project(make_project, manifest=manifest)
    with pytest.raises(BuildFailure) as failure:
        _build(root, tmp_path / "builds")
    message, hint = failure.value.message, failure.value.hint or ""
    assert "needs the Composer registry 127.0.0.1, which this machine cannot reach" in message
    assert "RemoteFilesystem" not in message and "In " not in message.split("\n")[0]
    assert "path" in hint and "vendor" in hint and "sunup logs build" in hint
    assert (tmp_path / "build.log").read_text().count("could not be downloaded") >= 1


def test_packagist_output_names_packagist() -> None:
    """Composer's message when packagist.org does not resolve (as Composer 2.5 prints it) names it."""
    lines = [
        "In RemoteFilesystem.php line 476:",
        '  The "https://repo.packagist.org/packages.json" file could not be downloaded',
        "  : php_network_getaddresses: getaddrinfo for repo.packagist.org failed: Name",
    ]
    assert composer.unreachable_registry(lines) == "repo.packagist.org"
    assert composer.unreachable_registry(["Your requirements could not be resolved"]) is None


@pytest.mark.parametrize(
    ("constraint", "met"),
    [("^2", True), ("2.*", True), ("*", True), (">=2", True), ("~2.1", True), ("^2.9", False), ("^1", False)],
)
def test_local_composer_meets_constraint(constraint: str, met: bool) -> None:
    assert composer.satisfied_by(constraint, "2.5.5") is met


def test_dependencies_php_global_packages_on_path(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """`dependencies.php` with the platform's `require` + `repositories` form: the global package's
    command runs in the build hook and is on the toolchain's PATH (the instances'); composer/composer
    ^2 is this machine's Composer (nothing downloaded)."""
    extra = """\
    build:
      flavor: none
    dependencies:
      php:
        composer/composer: "^2"
        require:
          acme/hello: "*"
        repositories:
          - type: path
            url: packages/hello"""
    root = _php_project(make_project, extra=extra)
    config = (root / ".upsun/config.yaml").read_text()
    hook_start = config.index("      build: |")
    (root / ".upsun/config.yaml").write_text(config[:hook_start] + '      build: "hello > said.txt"\n')
    lines: list[str] = []
    result = _build(root, tmp_path / "builds", lines)
    assert (result.app_dir / "said.txt").read_text() == "hello-command\n"
    assert any("using this machine's Composer" in line for line in lines), lines
    bin_dir = result.toolchain.path[0]
    assert Path(bin_dir, "hello").exists() and not bin_dir.startswith(str(result.app_dir))
    ran = subprocess.run(
        ["hello"], check=True, env=result.toolchain.apply({"PATH": "/usr/bin:/bin"}), capture_output=True
    )
    assert ran.stdout == b"hello-command\n"
    # Reused: the recorded toolchain keeps the PATH entry.
    again = _build(root, tmp_path / "builds")
    assert again.reused and again.toolchain.path[0] == bin_dir


def test_global_package_from_unreachable_registry_is_named(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """`dependencies.php` whose package needs a registry this machine cannot reach: the same message."""
    port = _closed_port()
    extra = f"""\
    build:
      flavor: none
    dependencies:
      php:
        require:
          acme/remote-tool: "^1"
        repositories:
          - type: composer
            url: "https://127.0.0.1:{port}"
          - packagist.org: false"""
    root = _php_project(make_project, extra=extra)
    with pytest.raises(BuildFailure) as failure:
        _build(root, tmp_path / "builds")
    assert "installing php dependencies needs the Composer registry 127.0.0.1" in failure.value.message


def test_unknown_flavor_is_said_and_skipped(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A flavor sunup does not run (Platform.sh's old `drupal`): a warning in the progress, no composer."""
    root = _php_project(make_project, extra="    build:\n      flavor: drupal")
    lines: list[str] = []
    with pytest.raises(BuildFailure):
        _build(root, tmp_path / "builds", lines)  # the build hook needs vendor/
    assert any("warning: build flavor 'drupal'" in line for line in lines), lines
