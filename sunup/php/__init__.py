"""PHP apps at run time (spec §12): PHP-FPM behind the app's web server, php.ini from the config.

- `sunup.php.settings`: what an app's configuration asks of PHP (pure): `variables.php`,
  `runtime.extensions`, `runtime.disabled_extensions`, `runtime.sizing_hints`, and the FPM pool
  size they give with the instance's memory.
- `sunup.php.render`: the FPM configuration, the php.ini settings file and the start script, as
  text (pure).
- `sunup.php.machine`: the PHP installed here (its version, FPM and CLI binaries, ini folders,
  extensions), probed once.
- `sunup.php.instances`: the files of each instance group written under the state folder, and
  what each instance's environment gets (`PHP_INI_SCAN_DIR`, the FPM configuration).

A PHP app's web instance runs ``start-php-app`` unless it says otherwise (on the platform,
``/usr/bin/start-php-app``): a script in ``<state>/bin`` running FPM in the foreground with the
configuration sunup wrote. The system's ``/etc/php`` pools and services are never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sunup.plan.model import GroupPlan

#: The web start command of a PHP app that sets none (the platform's default, by name).
PHP_START = "start-php-app"


def is_php(app_type: str) -> bool:
    """`type: php:8.3` (or a bare `php`)."""
    return app_type == "php" or app_type.startswith("php:")


def uses_fpm(group: GroupPlan) -> bool:
    """A web group that runs the default PHP start (FPM), whose stop is FPM's graceful one."""
    return group.is_web and group.commands is not None and group.commands.start.strip() == PHP_START
