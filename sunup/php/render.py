"""The texts sunup writes for PHP: FPM's configuration, the php.ini settings file, the start script.

Pure. One FPM configuration serves every web instance of a group: its pool listens on
``${SOCKET}`` (or ``127.0.0.1:${PORT}`` for `socket_family: tcp`), which FPM reads from the
environment of the instance that starts it. FPM stays in the foreground as the instance's main
process; its log and its children's output (PHP's errors included) go to its stderr, which is
the instance's log. `clear_env = no`: PHP sees the instance's environment (`getenv()`,
``$_ENV``, ``$_SERVER``: PLATFORM_RELATIONSHIPS and the rest). A stop is SIGQUIT (a graceful
stop: each child ends its request), bounded by `process_control_timeout` inside the grace.
"""

from __future__ import annotations

from collections.abc import Iterable

from sunup.php.settings import IniSetting, PhpSettings

#: Seconds FPM gives its children to end their requests at a graceful stop (within the 15 s grace).
PROCESS_CONTROL_TIMEOUT = 10


def fpm_config(settings: PhpSettings, *, socket_family: str = "unix") -> str:
    listen = "${SOCKET}" if socket_family == "unix" else "127.0.0.1:${PORT}"
    lines = [
        f"; sunup: PHP-FPM of app {settings.app}, {settings.group} instances (written at each start).",
        "[global]",
        "error_log = /proc/self/fd/2",
        "log_limit = 8192",
        "daemonize = no",
        "systemd_interval = 0",
        f"process_control_timeout = {PROCESS_CONTROL_TIMEOUT}s",
        "",
        f"[{_pool_name(settings.app)}]",
        f"listen = {listen}",
        "listen.mode = 0660",
        "listen.backlog = 511",
        "pm = static",
        f"pm.max_children = {settings.max_children}",
        "pm.max_requests = 0",
        "clear_env = no",
        "catch_workers_output = yes",
        "decorate_workers_output = no",
        # Nothing but .php runs, whatever nginx passes on.
        "security.limit_extensions = .php",
        "",
    ]
    return "\n".join(lines)


def ini_file(settings: PhpSettings, load_lines: Iterable[str], *, fpm: bool) -> str:
    """The last file of the ini folder: extensions to load, then `variables.php` (which win)."""
    lines = [f"; sunup: app {settings.app}, {settings.group} instances: runtime.extensions, variables.php"]
    lines.extend(load_lines)
    if fpm:
        # PHP's errors in the instance's log (FPM passes its children's stderr on), not in
        # nginx's; a `variables.php.error_log` below still wins.
        lines.append("error_log = /proc/self/fd/2")
    lines.extend(_setting(s) for s in settings.ini)
    return "\n".join(lines) + "\n"


def start_script(*, as_root: bool) -> str:
    """``start-php-app``: FPM in the foreground with the instance's configuration (set in its
    environment by sunup), its own ini folder, allowed to run as root when sunup does."""
    flags = " --allow-to-run-as-root" if as_root else ""
    return (
        "#!/bin/sh\n"
        "# sunup: the PHP app's web start (the platform's /usr/bin/start-php-app): PHP-FPM in the foreground.\n"
        ': "${SUNUP_PHP_FPM:?start-php-app runs in the web instance of a PHP app (sunup sets SUNUP_PHP_FPM)}"\n'
        'PHP_INI_SCAN_DIR="$SUNUP_PHP_FPM_INI_SCAN_DIR"\n'
        "export PHP_INI_SCAN_DIR\n"
        f'exec "$SUNUP_PHP_FPM" --nodaemonize --fpm-config "$SUNUP_PHP_FPM_CONFIG"{flags} "$@"\n'
    )


def _setting(setting: IniSetting) -> str:
    return f"{setting.name} = {setting.value}"


def _pool_name(app: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in app) or "app"
