"""The pure parts of sunup.php: settings read from the plan, the ini folder, the rendered files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sunup.config.loader import load_project
from sunup.errors import RuntimeFailure
from sunup.php import PHP_START, machine
from sunup.php.extensions import debian_package, loaded_by, scan_dir
from sunup.php.render import fpm_config, ini_file, start_script
from sunup.php.settings import ini_value, max_children, php_settings
from sunup.plan.resolve import HostFacts, resolve_project


def _plan(tmp_path: Path, config: str):  # type: ignore[no-untyped-def]
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text(config)
    return resolve_project(load_project(tmp_path), HostFacts.for_project(tmp_path))


PHP_APP = """\
applications:
  app:
    type: php:8.3
    variables:
      php:
        memory_limit: 256M
        display_errors: false
        opcache:
          memory_consumption: 128
        error_reporting: E_ALL & ~E_DEPRECATED
        bad: 'say "hi"'
    runtime:
      extensions: [Redis, {name: blackfire, configuration: {server_id: x}}]
      disabled_extensions: [sodium]
      sizing_hints: {request_memory: 10, reserved_memory: 30}
    web:
      locations:
        /: {root: public, passthru: /index.php}
    workers:
      queue:
        commands: {start: php worker.php}
"""


def test_php_web_defaults_to_fpm_on_a_unix_socket(tmp_path: Path) -> None:
    app = _plan(tmp_path, PHP_APP).apps[0]
    web = app.groups[0]
    assert web.commands is not None and web.commands.start == PHP_START
    assert (web.socket_family, web.protocol) == ("unix", "fastcgi")
    assert web.environment["PLATFORM_APP_COMMAND"] == PHP_START
    queue = app.groups[1]
    assert queue.commands is not None and queue.commands.start == "php worker.php"


def test_python_web_keeps_no_default_start(tmp_path: Path) -> None:
    app = _plan(tmp_path, "applications:\n  app:\n    type: python:3.11\n").apps[0]
    assert app.groups[0].commands is None and app.groups[0].socket_family == "tcp"


def test_settings_from_the_plan(tmp_path: Path) -> None:
    app = _plan(tmp_path, PHP_APP).apps[0]
    settings = php_settings(app, app.groups[0])
    assert settings.version == "8.3"
    assert [(s.name, s.value) for s in settings.ini] == [
        ("memory_limit", "256M"),
        ("display_errors", "Off"),
        ("opcache.memory_consumption", "128"),
        ("error_reporting", '"E_ALL & ~E_DEPRECATED"'),
    ]
    assert settings.refused == ("bad",)
    assert settings.extensions == ("redis", "blackfire")
    assert settings.disabled_extensions == ("sodium",)
    # 224 MB (HIGH_CPU, 0.5 CPU): (224 - 30) // 10
    assert settings.max_children == 19


@pytest.mark.parametrize(
    ("memory", "per_request", "reserved", "children"),
    [(224, 45, 70, 3), (64, 45, 70, 2), (1920, 45, 70, 41), (384, 11, 70, 28), (100, 0, 0, 100)],
)
def test_max_children(memory: int, per_request: int, reserved: int, children: int) -> None:
    assert max_children(memory, per_request, reserved) == children


def test_ini_values() -> None:
    assert ini_value(True) == "On"
    assert ini_value(None) == '""'
    assert ini_value(-1) == "-1"
    assert ini_value("Europe/Paris") == "Europe/Paris"
    assert ini_value("a;b") == '"a;b"'
    assert ini_value("line\nbreak") is None


SYSTEM = {
    "10-opcache.ini": "; configuration for php opcache module\nzend_extension=opcache.so\n",
    "20-redis.ini": "extension=redis.so\n",
    "20-igbinary.ini": '; priority=20\nextension = "igbinary"\n',
}


def test_scan_dir_disables_enables_and_names_packages() -> None:
    planned = scan_dir(
        SYSTEM,
        ["Core", "json", "sodium"],
        ["opcache.so", "redis.so", "igbinary.so", "apcu.so"],
        extensions=["opcache", "apcu", "imagick", "pdo_mysql", "redis"],
        disabled=["redis", "sodium"],
        version="8.2",
    )
    assert planned.kept == ("10-opcache.ini", "20-igbinary.ini")
    assert planned.load_lines == ("extension=apcu",)
    assert planned.missing == (("imagick", "php8.2-imagick"), ("pdo_mysql", "php8.2-mysql"))
    assert any("'sodium' is built into PHP 8.2" in w for w in planned.warnings)
    assert any("'redis' is in runtime.disabled_extensions too" in w for w in planned.warnings)


def test_loaded_by_and_packages() -> None:
    assert loaded_by('extension="/usr/lib/php/x/redis.so"\n;extension=gd\nzend_extension=opcache') == {
        "redis",
        "opcache",
    }
    assert debian_package("pdo_pgsql", "8.2") == "php8.2-pgsql"
    assert debian_package("dom", "8.3") == "php8.3-xml"
    assert debian_package("blackfire", "8.2").startswith("blackfire-php")


def test_rendered_files(tmp_path: Path) -> None:
    app = _plan(tmp_path, PHP_APP).apps[0]
    settings = php_settings(app, app.groups[0])
    conf = fpm_config(settings)
    assert "listen = ${SOCKET}" in conf and "pm.max_children = 19" in conf and "clear_env = no" in conf
    assert "security.limit_extensions = .php" in conf
    assert "listen = 127.0.0.1:${PORT}" in fpm_config(settings, socket_family="tcp")
    fpm_ini = ini_file(settings, ["extension=apcu"], fpm=True)
    assert (
        fpm_ini.index("extension=apcu") < fpm_ini.index("error_log = /proc/self/fd/2") < fpm_ini.index("memory_limit")
    )
    assert "error_log" not in ini_file(settings, [], fpm=False)
    assert "--allow-to-run-as-root" in start_script(as_root=True)
    assert "--allow-to-run-as-root" not in start_script(as_root=False)


def test_choose_a_version(tmp_path: Path) -> None:
    sbin, bin_ = tmp_path / "sbin", tmp_path / "bin"
    sbin.mkdir()
    bin_.mkdir()
    with pytest.raises(RuntimeFailure, match="PHP-FPM is not installed"):
        machine.choose("8.3", sbin, bin_)
    for version in ("8.1", "8.2", "8.4"):
        (sbin / f"php-fpm{version}").touch()
    for version in ("8.1", "8.2"):
        (bin_ / f"php{version}").touch()
    assert machine.choose("8.1", sbin, bin_) == ("8.1", None)  # both halves installed
    version, warning = machine.choose("8.4", sbin, bin_)  # no CLI of 8.4
    assert version == "8.2"
    assert warning is not None and "PHP 8.4" in warning and "(PHP 8.2)" in warning
    assert machine.choose("", sbin, bin_) == ("8.2", None)


def test_sunup_config_says_web_runs_fpm(tmp_path: Path) -> None:
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text(PHP_APP)
    done = subprocess.run(
        [sys.executable, "-m", "sunup", "-C", str(tmp_path), "config"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "start-php-app  (PHP-FPM, the default of php: pool of 19 children on the instance's socket)" in done.stdout
    assert "static files only" not in done.stdout


def test_a_missing_profiling_agent_is_a_warning_not_a_stop() -> None:
    """Upsun's templates ask for blackfire; the app runs the same without it."""
    planned = scan_dir(
        SYSTEM, ["Core"], [], extensions=["blackfire", "newrelic", "imagick"], disabled=[], version="8.2"
    )
    assert planned.missing == (("imagick", "php8.2-imagick"),)
    said = [w for w in planned.warnings if "profiling or monitoring agent" in w]
    assert len(said) == 2 and "'blackfire' is not installed for PHP 8.2 here" in said[0], planned.warnings
    assert "blackfire-php" in said[0]
