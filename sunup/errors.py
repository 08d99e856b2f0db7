"""The errors sunup reports to users, and the exit code each one gives.

    SunupError                 message + hint; exit code 1
     ├── ProjectNotFoundError  no .upsun/ or .platform.app.yaml above the folder; exit 4
     ├── ConfigError           the configuration has errors (carries the diagnostics); exit 3
     ├── SelectionError        an app, worker or instance that the project does not have; exit 2
     └── RuntimeFailure        something failed while running (an instance, a service, the
                               supervisor); names the instance and the cause; exit 1

Exactly one place turns these into output and an exit status: `sunup.cli.main`. Anything else
that escapes is a bug in sunup, reported as such with a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sunup.config.loader import LoadedConfig

#: Exit statuses, documented in README.md.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INVALID_CONFIG = 3
EXIT_NO_PROJECT = 4


class SunupError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ProjectNotFoundError(SunupError):
    exit_code = EXIT_NO_PROJECT


class ConfigError(SunupError):
    exit_code = EXIT_INVALID_CONFIG

    def __init__(self, loaded: LoadedConfig) -> None:
        count = len(loaded.diagnostics.errors)
        super().__init__(f"the configuration has {count} error{'s' if count != 1 else ''}")
        self.loaded = loaded


class SelectionError(SunupError):
    exit_code = EXIT_USAGE


class RuntimeFailure(SunupError):
    exit_code = EXIT_FAILURE


def describe_os_error(exc: OSError) -> str:
    """`exc` as a sentence: what failed, on which file (the machine refused something: a full
    disk, a permission; said without a traceback)."""
    what = exc.strerror or str(exc)
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{what}: {' -> '.join(names)}" if names else what
