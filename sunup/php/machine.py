"""The PHP installed on this machine: version, FPM and CLI binaries, ini folders, extensions.

Debian's layout (``php8.2-fpm``, ``php8.2-cli``): ``/usr/sbin/php-fpm8.2``, ``/usr/bin/php8.2``,
``/etc/php/8.2/<sapi>/conf.d`` (links into ``mods-available``), the extensions' ``.so`` files in
the folder PHP reports as ``extension_dir``. The version asked for is used when both its FPM and
its CLI are installed (``php8.3-fpm`` from another repository); else the newest one here, with a
warning naming both (as for Python, `sunup.build.toolchain`). One probe of the CLI (``php -n``:
no ini file) gives the version, the extension folder, the ini folder and the extensions built in.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sunup.errors import RuntimeFailure

#: Where Debian puts the binaries.
FPM_FOLDER = Path("/usr/sbin")
CLI_FOLDER = Path("/usr/bin")
_PROBE = (
    "echo PHP_MAJOR_VERSION, '.', PHP_MINOR_VERSION, \"\\n\", ini_get('extension_dir'), \"\\n\","
    " PHP_CONFIG_FILE_SCAN_DIR, \"\\n\", implode(' ', array_map('strtolower', get_loaded_extensions()));"
)


@dataclass(frozen=True, slots=True)
class LocalPhp:
    """One PHP version installed here."""

    version: str
    fpm: Path
    cli: Path
    #: Where the extensions' `.so` files are.
    extension_dir: Path
    #: The system's ini folder of the CLI and of FPM (``/etc/php/8.2/cli/conf.d``...).
    cli_scan_dir: Path
    fpm_scan_dir: Path
    #: Extensions compiled into PHP (no ini file loads them; they cannot be disabled).
    builtin: frozenset[str]


def installed_versions(fpm_folder: Path = FPM_FOLDER, cli_folder: Path = CLI_FOLDER) -> list[str]:
    """The X.Y versions with both an FPM and a CLI here, newest first."""
    found = []
    for fpm in fpm_folder.glob("php-fpm*"):
        match = re.fullmatch(r"php-fpm(\d+\.\d+)", fpm.name)
        if match and (cli_folder / f"php{match[1]}").exists():
            found.append(match[1])
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)


def choose(asked: str, fpm_folder: Path = FPM_FOLDER, cli_folder: Path = CLI_FOLDER) -> tuple[str, str | None]:
    """The version to run for ``php:<asked>``, and a warning when it is another one."""
    versions = installed_versions(fpm_folder, cli_folder)
    if not versions:
        raise RuntimeFailure(
            "PHP-FPM is not installed here (no /usr/sbin/php-fpm<version> with its /usr/bin/php<version>)",
            hint="install it: apt-get install php8.2-fpm php8.2-cli",
        )
    if not asked or asked in versions:
        return asked or versions[0], None
    local = versions[0]
    return local, (
        f"type asks for PHP {asked}, which is not installed here (looked for {fpm_folder}/php-fpm{asked}); "
        f"using {fpm_folder}/php-fpm{local} (PHP {local}) instead"
    )


@functools.cache
def local_php(version: str) -> LocalPhp:
    """PHP `version` (installed: see `choose`), probed once per process."""
    cli = CLI_FOLDER / f"php{version}"
    fpm = FPM_FOLDER / f"php-fpm{version}"
    try:
        done = subprocess.run([str(cli), "-n", "-r", _PROBE], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeFailure(f"cannot run {cli}: {exc}", hint=f"apt-get install --reinstall php{version}-cli") from exc
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) < 4:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeFailure(f"{cli} does not run: {said}", hint=f"apt-get install --reinstall php{version}-cli")
    scan = Path(lines[2]) if lines[2] else Path(f"/etc/php/{version}/cli/conf.d")
    fpm_scan = scan.parent.parent / "fpm" / scan.name
    return LocalPhp(
        version=lines[0],
        fpm=fpm,
        cli=cli,
        extension_dir=Path(lines[1]),
        cli_scan_dir=scan,
        fpm_scan_dir=fpm_scan if fpm_scan.is_dir() else scan,
        builtin=frozenset(lines[3].split()),
    )
