"""`sunup validate` and `sunup config` as a user runs them: a real process, real exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.cli import main
from sunup.config import read_config
from sunup.errors import EXIT_INVALID_CONFIG, EXIT_OK
from tests.config.test_corpus import KNOWN_INVALID
from tests.conftest import CORPUS, copy_project


def sunup(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sunup", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        check=False,
    )


def test_version_and_help() -> None:
    """`sunup --version` prints the version and `--help` lists the commands."""
    version = sunup("--version")
    assert version.returncode == 0 and "sunup" in version.stdout
    helped = sunup("--help")
    assert helped.returncode == 0
    for command in ("validate", "config", "schema"):
        assert command in helped.stdout


def test_validate_seed_example_is_valid(seed_example: Path) -> None:
    """The seed example validates with exit status 0 and a one-line summary."""
    result = sunup("-C", str(seed_example), "validate")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stderr and "2 workers" in result.stderr


def test_project_is_found_from_a_subfolder(make_project: Callable[..., Path]) -> None:
    """Run from a folder inside the project, sunup walks up to the folder holding .upsun/."""
    root = make_project({".upsun/config.yaml": "applications:\n  app:\n    type: python:3.12\n", "src/deep/x.py": ""})
    result = sunup("validate", cwd=root / "src" / "deep")
    assert result.returncode == 0, result.stderr


def test_no_project_exits_4_without_traceback(tmp_path: Path) -> None:
    """Outside any project, sunup says so, with a hint, and exits 4."""
    result = sunup("-C", str(tmp_path), "validate")
    assert result.returncode == 4
    assert "no Upsun project" in result.stderr and "-C DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_config_is_rendered_like_a_compiler(make_project: Callable[..., Path]) -> None:
    """Every error is shown as file:line:col: error[code], with its source line, a caret and a hint."""
    root = make_project(
        {
            ".upsun/config.yaml": (
                "applications:\n"
                "  app:\n"
                "    type: python:3.14\n"
                "    workers:\n"
                "      queue:\n"
                "        comands:\n"
                "          start: python q.py\n"
            )
        }
    )
    result = sunup("-C", str(root), "validate")
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    first = lines.index(
        ".upsun/config.yaml:6:9: error[unknown-key]: 'comands' is not a key of applications.app.workers.queue"
    )
    assert lines[first + 1] == " 6 |         comands:"
    assert lines[first + 2] == "   |         ^^^^^^^"
    assert lines[first + 3] == "  hint: did you mean 'commands'?"
    assert "error[missing-key]" in result.stderr  # the worker also lacks commands.start
    assert result.stderr.rstrip().endswith("2 errors")
    assert "Traceback" not in result.stderr


def test_validate_json_lists_diagnostics(make_project: Callable[..., Path]) -> None:
    """`validate --json` gives every diagnostic with code, file, line and column."""
    root = make_project({".upsun/config.yaml": "applications:\n  app:\n    type: pyton:3.12\n"})
    result = sunup("-C", str(root), "validate", "--json")
    assert result.returncode == 3
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert [(d["code"], d["line"], d["column"]) for d in document["diagnostics"]] == [("unknown-runtime", 3, 11)]


def test_config_shows_effective_worker_configuration(seed_example: Path) -> None:
    """`config --worker mail` shows mail's own TYPE, only rabbitmq, and no mounts."""
    result = sunup("-C", str(seed_example), "config", "--worker", "mail")
    assert result.returncode == 0, result.stderr
    assert "app--mail" in result.stdout
    assert "rabbitmq -> rabbitmq:rabbitmq" in result.stdout
    assert "mysql" not in result.stdout
    assert "mounts:           (none)" in result.stdout
    assert "TYPE=worker" in result.stdout


def test_config_unknown_worker_is_a_usage_error(seed_example: Path) -> None:
    """An unknown worker name exits 2 and suggests the closest one."""
    result = sunup("-C", str(seed_example), "config", "--worker", "queu")
    assert result.returncode == 2
    assert "no worker 'queu'" in result.stderr and "did you mean 'queue'?" in result.stderr


def test_config_of_invalid_project_prints_diagnostics(make_project: Callable[..., Path]) -> None:
    """`config` on a broken project shows the same diagnostics as validate and exits 3."""
    root = make_project({".upsun/config.yaml": "applications:\n  app:\n    type: python:3.12\n    bogus: 1\n"})
    result = sunup("-C", str(root), "config")
    assert result.returncode == 3
    assert ".upsun/config.yaml:4:5: error[unknown-key]" in result.stderr


def _multi_app_roots() -> list[Path]:
    """The shared corpus's legacy multi-app projects: `.platform/` at the root, no app file there."""
    if not CORPUS.is_dir():
        return []
    return sorted(
        p.parent.parent
        for p in CORPUS.glob("**/.platform/routes.yaml")
        if not (p.parent.parent / ".platform.app.yaml").is_file()
    )


MULTI_APP = _multi_app_roots()


@pytest.mark.skipif(not MULTI_APP, reason=f"the shared corpus is not at {CORPUS}")
@pytest.mark.parametrize("root", MULTI_APP, ids=[str(r.relative_to(CORPUS)) for r in MULTI_APP])
def test_validate_and_config_work_in_a_multi_app_repository(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a multi-app legacy repository, `sunup validate` from its root and `sunup config` from an app's folder read every app."""
    copy = copy_project(root, tmp_path / "repo")
    known = KNOWN_INVALID.get(str(root.relative_to(CORPUS)))
    expected = EXIT_INVALID_CONFIG if known else EXIT_OK
    apps = sorted({p.parent for p in copy.rglob(".platform.app.yaml")}) or [copy]
    for folder, command in ((copy, "validate"), (apps[-1], "config")):
        monkeypatch.chdir(folder)
        with pytest.raises(SystemExit) as exited:
            main([command])
        out = capsys.readouterr()
        assert exited.value.code == expected, f"{command} from {folder.relative_to(tmp_path)}:\n{out.err}"
        if not known and command == "validate":
            count = len(read_config(copy).data["applications"])
            assert f"({count} application" in out.err, out.err
