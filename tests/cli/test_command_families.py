"""Every command is found through the lazy command table, and only its own module is imported."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

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


def _sunup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sunup", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        check=False,
    )


def test_a_misspelt_command_gets_the_closest_one_and_exit_2() -> None:
    """`sunup sevices` says there is no such command, suggests 'services' and exits 2 (a usage error)."""
    result = _sunup("sevices")
    assert result.returncode == 2, result.stderr
    assert "no such command 'sevices'" in result.stderr.lower()
    assert "did you mean 'services'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_command_far_from_any_gets_the_help_hint_only() -> None:
    """A word close to no command gets no suggestion, only the pointer to --help (exit 2)."""
    result = _sunup("xyzzy")
    assert result.returncode == 2
    assert "did you mean" not in result.stderr and "sunup --help" in result.stderr


def test_a_project_folder_that_does_not_exist_is_named_as_such(tmp_path: Path) -> None:
    """`-C /no/such/folder` says the folder does not exist (exit 2), not that no project is above it."""
    missing = tmp_path / "no" / "such" / "folder"
    result = _sunup("-C", str(missing), "validate")
    assert result.returncode == 2, result.stderr
    assert "does not exist" in result.stderr and str(missing) in result.stderr
    assert "no Upsun project" not in result.stderr
    a_file = tmp_path / "file"
    a_file.write_text("")
    result = _sunup("-C", str(a_file), "validate")
    assert result.returncode == 2 and "is a file" in result.stderr, result.stderr
