"""Where a project's services keep their files: ``<state>/services/``, in the supervisor's state folder.

The state folder is the supervisor's (`sunup.supervisor.statedir.StateDir`): ``<project>/.sunup``,
or ``$SUNUP_STATE_DIR``. Services add ``services/`` to it (docs/services.md).
"""

from __future__ import annotations

from pathlib import Path


def default_state_dir(root: Path) -> Path:
    """The project's state folder, as the supervisor finds it."""
    from sunup.supervisor.statedir import StateDir

    return StateDir.for_project(root).root


def services_dir(state_dir: Path) -> Path:
    """``<state>/services``: one folder per service, and the project secret."""
    return state_dir / "services"
