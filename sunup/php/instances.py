"""The PHP files of each instance group, under the state folder, and what its instances get.

For every group (web and workers) of a PHP app, in ``<state>/php/<app>/<group>/``:

- ``cli/`` and ``fpm/``: the ini folders PHP reads (``PHP_INI_SCAN_DIR``) instead of the
  system's: links to the system's files of that SAPI (``/etc/php/8.2/cli/conf.d/*``), less those
  of `runtime.disabled_extensions`, then ``zz-sunup.ini`` (extensions to load, `variables.php`).
  The system's ``php.ini`` of each SAPI is still read first, as without sunup.
- ``php-fpm.conf`` (web instances running the default start): the pool (`sunup.php.render`).

Every instance, hook, cron and ``sunup ssh`` shell of the app gets ``PHP_INI_SCAN_DIR`` (the CLI
folder) and ``<state>/php/<app>/bin`` first on PATH (``php`` is the version chosen); the web
instances also what ``start-php-app`` (in ``<state>/bin``) reads. Files are written when the
instances' specs are made (each start, deploy and scale), so they follow the configuration.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.php import PHP_START, is_php, machine, uses_fpm
from sunup.php.extensions import ScanDir, scan_dir
from sunup.php.render import fpm_config, ini_file, start_script
from sunup.php.settings import PhpSettings, php_settings
from sunup.plan.model import AppPlan, GroupPlan, ProjectPlan
from sunup.router.site import safe_name
from sunup.supervisor.instance import InstanceId

Environment = Callable[[GroupPlan, InstanceId], Mapping[str, str]]
SETTINGS_FILE = "zz-sunup.ini"


@dataclass(frozen=True, slots=True)
class GroupFiles:
    """What one group's instances get: their environment additions."""

    environment: Mapping[str, str]


class PhpInstances:
    """The PHP part of each instance's environment, its files written on the way."""

    def __init__(self, state_root: Path, bin_folder: Path, plan: ProjectPlan, say: Callable[[str], None]) -> None:
        self.folder = state_root / "php"
        self.bin_folder = bin_folder
        self.plan = plan
        self.say = say
        self._said: set[str] = set()
        self._groups: dict[tuple[str, str], tuple[PhpSettings, GroupFiles]] = {}

    def environment(self, group: GroupPlan) -> Mapping[str, str]:
        app = self.plan.app(group.app)
        if app is None or not is_php(app.type):
            return {}
        settings = php_settings(app, group)
        known = self._groups.get((app.name, group.name))
        if known is None or known[0] != settings:
            known = (settings, self._write(app, group, settings))
            self._groups[(app.name, group.name)] = known
        return known[1].environment

    def _warn(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            self.say(f"warning: {text}")

    def _write(self, app: AppPlan, group: GroupPlan, settings: PhpSettings) -> GroupFiles:
        version, warning = machine.choose(settings.version)
        if warning:
            self._warn(f"app {app.name}: {warning}")
        local = machine.local_php(version)
        for name in settings.refused:
            self._warn(
                f"app {app.name}: variables.php.{name}: php.ini cannot hold this name or value"
                " (a quote or a new line): left out"
            )
        where = self.folder / safe_name(app.name) / safe_name(group.name)
        shared_objects = _listing(local.extension_dir)
        cli = self._scan_dir(where / "cli", local.cli_scan_dir, local, settings, shared_objects, fpm=False)
        binaries = self.folder / safe_name(app.name) / "bin"
        _link(binaries / "php", local.cli)
        env = {"PHP_INI_SCAN_DIR": str(cli), "PATH": str(binaries)}
        if uses_fpm(group):
            fpm = self._scan_dir(where / "fpm", local.fpm_scan_dir, local, settings, shared_objects, fpm=True)
            config = where / "php-fpm.conf"
            write_atomically(config, fpm_config(settings, socket_family=group.socket_family or "unix").encode())
            self._start_script()
            env.update(
                {
                    "SUNUP_PHP_FPM": str(local.fpm),
                    "SUNUP_PHP_FPM_CONFIG": str(config),
                    "SUNUP_PHP_FPM_INI_SCAN_DIR": str(fpm),
                }
            )
        return GroupFiles(env)

    def _scan_dir(
        self,
        folder: Path,
        system: Path,
        local: machine.LocalPhp,
        settings: PhpSettings,
        shared_objects: list[str],
        *,
        fpm: bool,
    ) -> Path:
        texts = {name: _read(system / name) for name in _listing(system) if name.endswith(".ini")}
        planned: ScanDir = scan_dir(
            texts,
            local.builtin,
            shared_objects,
            extensions=settings.extensions,
            disabled=settings.disabled_extensions,
            version=local.version,
        )
        for text in planned.warnings:
            self._warn(f"app {settings.app}: {text}")
        _refuse_missing(settings, local, planned)
        folder.mkdir(parents=True, exist_ok=True)
        wanted = set(planned.kept) | {SETTINGS_FILE}
        for name in _listing(folder):
            if name not in wanted:
                (folder / name).unlink(missing_ok=True)
        for name in planned.kept:
            _link(folder / name, system / name)
        write_atomically(folder / SETTINGS_FILE, ini_file(settings, planned.load_lines, fpm=fpm).encode())
        return folder

    def _start_script(self) -> None:
        path = self.bin_folder / PHP_START
        text = start_script(as_root=os.geteuid() == 0).encode()
        try:
            current = path.read_bytes()
        except OSError:
            current = b""
        if current != text:
            self.bin_folder.mkdir(parents=True, exist_ok=True)
            write_atomically(path, text, mode=0o755)


def check_app(app: AppPlan) -> None:
    """Raise when this machine cannot run `app`'s PHP (no FPM, a missing extension): the build
    checks it, so that a deploy fails before it stops the running instances. A machine with no
    FPM at all (an image's build, which needs only the CLI) is left to the instances' start."""
    if not machine.installed_versions():
        return
    for group in app.groups:
        settings = php_settings(app, group)
        local = machine.local_php(machine.choose(settings.version)[0])
        folders = [local.cli_scan_dir, *([local.fpm_scan_dir] if uses_fpm(group) else [])]
        for system in folders:
            texts = {name: _read(system / name) for name in _listing(system) if name.endswith(".ini")}
            planned = scan_dir(
                texts,
                local.builtin,
                _listing(local.extension_dir),
                extensions=settings.extensions,
                disabled=settings.disabled_extensions,
                version=local.version,
            )
            _refuse_missing(settings, local, planned)


def _refuse_missing(settings: PhpSettings, local: machine.LocalPhp, planned: ScanDir) -> None:
    if not planned.missing:
        return
    names = ", ".join(f"'{name}'" for name, _ in planned.missing)
    packages = " ".join(dict.fromkeys(p.split(" ")[0] for _, p in planned.missing))
    where = ", ".join(f"{name}: {package}" for name, package in planned.missing)
    raise RuntimeFailure(
        f"app {settings.app}: runtime.extensions asks for {names}, not installed for PHP {local.version}"
        f" here ({where})",
        hint=f"install it: apt-get install {packages}",
    )


def with_php(php: PhpInstances, extra: Environment) -> Environment:
    """`extra` plus the PHP environment; PHP's PATH entry goes in front of `extra`'s."""

    def environment(group: GroupPlan, instance: InstanceId) -> Mapping[str, str]:
        inner = dict(extra(group, instance))
        mine = php.environment(group)
        if not mine:
            return inner
        merged = {**mine, **inner}
        merged["PATH"] = ":".join(p for p in (mine["PATH"], inner.get("PATH")) if p)
        return merged

    return environment


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _link(link: Path, target: Path) -> None:
    """`link` → `target`, replaced when it points elsewhere."""
    try:
        if os.readlink(link) == str(target):
            return
    except OSError:
        pass
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.new")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, link)
