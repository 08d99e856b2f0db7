"""`runtime.extensions` and `runtime.disabled_extensions` against the extensions installed here.

Pure: the inputs are the system's ini folder (file name → text), the extensions compiled in and
the `.so` files of the extension folder. The result is the ini folder sunup gives PHP instead
(`ScanDir`): the system's files, less those that load a disabled extension, plus `extension=`
lines for asked-for extensions that are installed but not enabled. An asked-for extension that
is not installed is an error naming the Debian package that brings it (a warning for the
profiling and monitoring agents: the app runs without them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Extensions whose Debian package is not ``php<version>-<name>``.
PACKAGES: Mapping[str, str] = {
    **dict.fromkeys(("mysqli", "mysqlnd", "pdo_mysql", "mysql"), "mysql"),
    **dict.fromkeys(("pgsql", "pdo_pgsql"), "pgsql"),
    **dict.fromkeys(("pdo_sqlite", "sqlite3", "sqlite"), "sqlite3"),
    **dict.fromkeys(("dom", "simplexml", "xml", "xmlreader", "xmlwriter", "xsl", "wddx"), "xml"),
    **dict.fromkeys(
        (
            *("calendar", "ctype", "exif", "ffi", "fileinfo", "ftp", "gettext", "iconv", "pdo", "phar"),
            *("posix", "shmop", "sockets", "sysvmsg", "sysvsem", "sysvshm", "tokenizer", "sodium"),
        ),
        "common",
    ),
    "pdo_dblib": "sybase",
    "pdo_odbc": "odbc",
    "pdo_firebird": "interbase",
    "zend opcache": "opcache",
}
#: Extensions no Debian package brings: where they come from.
ELSEWHERE: Mapping[str, str] = {
    "blackfire": "blackfire-php (from Blackfire's repository, packages.blackfire.io)",
    "newrelic": "newrelic-php5 (from New Relic's repository)",
    "tideways": "tideways-php (from Tideways' repository)",
    "ioncube": "the ionCube loader (from ioncube.com)",
    "sourceguardian": "the SourceGuardian loader (from sourceguardian.com)",
}
#: Profiling and monitoring agents: the app runs the same without them, so one that is not
#: installed here is a warning (Upsun's templates ask for blackfire), not a reason to stop.
AGENTS = frozenset({"blackfire", "newrelic", "tideways"})
#: Names configurations use for an extension PHP lists under another name.
ALIASES: Mapping[str, str] = {"opcache": "zend opcache", "zendopcache": "zend opcache"}
#: Loaded with `zend_extension=` rather than `extension=`.
ZEND_EXTENSIONS = frozenset({"opcache", "xdebug", "ioncube", "sourceguardian"})
_LOADS = re.compile(r"^\s*(?:zend_)?extension\s*=\s*[\"']?([^\"'\s;]+)", re.MULTILINE)


def debian_package(extension: str, version: str) -> str:
    """The package that brings `extension` for PHP `version` (``php8.2-redis``)."""
    if extension in ELSEWHERE:
        return ELSEWHERE[extension]
    return f"php{version}-{PACKAGES.get(extension, extension)}"


def loaded_by(ini_text: str) -> set[str]:
    """The extensions an ini file loads: ``extension=redis.so`` → ``redis``."""
    names = set()
    for path in _LOADS.findall(ini_text):
        name = path.rsplit("/", 1)[-1].removesuffix(".so").lower()
        names.add(name)
    return names


def canonical(name: str) -> str:
    """An extension's name as `get_loaded_extensions()` says it, lower-cased."""
    return ALIASES.get(name.lower(), name.lower())


@dataclass(frozen=True, slots=True)
class ScanDir:
    """The ini folder PHP gets: system files kept (by name), extension lines, what went wrong."""

    kept: tuple[str, ...]
    #: ``extension=apcu`` lines for asked-for extensions installed but not enabled.
    load_lines: tuple[str, ...]
    #: Asked-for extensions that are not installed (each with its package).
    missing: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]


def scan_dir(
    system: Mapping[str, str],
    builtin: Iterable[str],
    shared_objects: Iterable[str],
    *,
    extensions: Iterable[str],
    disabled: Iterable[str],
    version: str,
) -> ScanDir:
    """The ini folder for these `extensions` and `disabled` extensions (names as configured)."""
    compiled = {canonical(n) for n in builtin}
    files = {name: {canonical(e) for e in loaded_by(text)} for name, text in sorted(system.items())}
    objects = {n.removesuffix(".so").lower() for n in shared_objects}
    off = {canonical(n) for n in disabled}
    warnings: list[str] = []
    kept = [name for name, loads in files.items() if not loads & off]
    for name in sorted(off):
        if name in compiled:
            warnings.append(f"runtime.disabled_extensions: '{name}' is built into PHP {version}, it cannot be disabled")
    enabled = compiled | {e for name in kept for e in files[name]}
    load_lines: list[str] = []
    missing: list[tuple[str, str]] = []
    for asked in extensions:
        name = canonical(asked)
        if name in off:
            warnings.append(f"runtime.extensions: '{asked}' is in runtime.disabled_extensions too: it stays disabled")
            continue
        if name in enabled:
            continue
        so = "opcache" if name == "zend opcache" else name
        if so in objects:
            directive = "zend_extension" if so in ZEND_EXTENSIONS else "extension"
            load_lines.append(f"{directive}={so}")
            enabled.add(name)
        elif so in AGENTS:
            warnings.append(
                f"runtime.extensions: '{asked}' is not installed for PHP {version} here; it is a profiling"
                f" or monitoring agent, so the app runs without it (to use it: {debian_package(so, version)})"
            )
        else:
            missing.append((asked, debian_package(so, version)))
    return ScanDir(tuple(kept), tuple(load_lines), tuple(missing), tuple(warnings))
