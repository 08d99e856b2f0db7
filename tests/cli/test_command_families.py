"""Every command is found through the lazy command table, and only its own module is imported."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click

from sunup.cli import FAMILIES
from tests.conftest import REPO


def test_family_table_matches_what_each_module_registers() -> None:
    """FAMILIES names exactly the commands each module registers (a new command cannot be lost)."""
    for family, names in FAMILIES.items():
        group = click.Group()
        importlib.import_module(f"sunup.cli.{family}").register(group)
        assert sorted(group.commands) == sorted(names), family


def test_running_one_command_imports_only_its_family() -> None:
    """`sunup validate` does not import the supervisor, the services or the deploy modules."""
    probe = (
        "import sys\n"
        "from sunup.cli import main\n"
        "try:\n"
        "    main(['-C', 'examples/workers', 'validate'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('sunup.cli.') or m.startswith('sunup.supervisor')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    loaded = result.stdout.strip().splitlines()[-1]
    assert "sunup.cli.config_commands" in loaded
    for other in ("runtime_commands", "deploy_commands", "service_commands", "sunup.supervisor.daemon"):
        assert other not in loaded, loaded
