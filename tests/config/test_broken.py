"""Broken configurations as data: each folder of tests/data/broken/ is a project with mistakes.

A case is the project's files plus `expect.yaml`, the diagnostics it must produce::

    # what is broken, in one line
    - {code: unknown-key, file: .upsun/config.yaml, line: 8, column: 9}
    - {code: cron-too-frequent, file: .upsun/config.yaml, line: 12, column: 15, severity: warning}

Each expected diagnostic must be there at exactly that file, line and column; no other *error*
may appear (other warnings may), and validation fails. The same cases run through the CLI,
which must render each error compiler-style and exit with status 3.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sunup.cli import main
from sunup.cli.output import printable
from sunup.config import read_config
from sunup.config.diagnostics import Diagnostic
from sunup.errors import EXIT_INVALID_CONFIG
from tests.conftest import REPO

BROKEN = Path(__file__).resolve().parent.parent / "data" / "broken"
#: Codes that no configuration can produce, with the reason; every other code needs a case.
UNREACHABLE_CODES = {
    "invalid": "the fallback for a schema rule without its own code; the schema uses none such",
}


@dataclass(frozen=True)
class Expected:
    code: str
    file: str
    line: int
    column: int
    severity: str = "error"

    def matches(self, diagnostic: Diagnostic) -> bool:
        mark = diagnostic.mark
        return (
            mark is not None
            and (diagnostic.code, diagnostic.severity.value) == (self.code, self.severity)
            and (mark.file, mark.line, mark.column) == (self.file, self.line, self.column)
        )

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}[{self.code}]"


@dataclass(frozen=True)
class Case:
    name: str
    root: Path
    expected: tuple[Expected, ...]


def _cases() -> list[Case]:
    cases = []
    for root in sorted(p for p in BROKEN.iterdir() if p.is_dir()):
        entries = yaml.safe_load((root / "expect.yaml").read_text(encoding="utf-8"))
        cases.append(Case(root.name, root, tuple(Expected(**entry) for entry in entries)))
    return cases


CASES = _cases()


def _show(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(f"  {d.mark}: {d.severity.value}[{d.code}]: {d.message}" for d in diagnostics) or "  (none)"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_yields_its_diagnostics_at_their_positions(case: Case) -> None:
    """The broken project yields every expected diagnostic at its exact position, no other error, and is invalid."""
    loaded = read_config(case.root)
    found = list(loaded.diagnostics)
    missing = [e for e in case.expected if not any(e.matches(d) for d in found)]
    unexpected = [d for d in loaded.diagnostics.errors if not any(e.matches(d) for e in case.expected)]
    assert not missing and not unexpected, (
        f"{case.name}\nmissing:\n  "
        + "\n  ".join(map(str, missing))
        + f"\nunexpected errors:\n{_show(unexpected)}\nall diagnostics:\n{_show(found)}"
    )
    assert loaded.diagnostics.has_errors()
    assert all(d.mark is not None for d in found), "every diagnostic names a file, line and column"


def _source_lines(case: Case, file: str) -> list[str] | None:
    """The lines of `file` as the CLI shows them, or None when it is not a readable UTF-8 file."""
    try:
        return (case.root / file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_renders_each_error_with_source_and_caret(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    """`sunup -C case validate` exits 3 and prints each error as file:line:col, its source line and a caret."""
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(case.root), "validate"])
    out = capsys.readouterr()
    assert exited.value.code == EXIT_INVALID_CONFIG, out.err
    assert "Traceback" not in out.err + out.out
    lines = out.err.splitlines()
    for expected in (e for e in case.expected if e.severity == "error"):
        head = f"{expected.file}:{expected.line}:{expected.column}: error[{expected.code}]: "
        index = next((i for i, line in enumerate(lines) if line.startswith(head)), None)
        assert index is not None, f"no line starting with {head!r} in:\n{out.err}"
        source = _source_lines(case, expected.file)
        if source is None or expected.line > len(source):
            continue  # a folder, an undecodable or missing file: there is no line to show
        gutter = f" {expected.line} | "
        assert lines[index + 1] == gutter + printable(source[expected.line - 1].rstrip()), out.err
        caret = lines[index + 2]
        assert re.fullmatch(rf" {' ' * len(str(expected.line))} \| {' ' * (expected.column - 1)}\^+", caret), (
            f"caret line {caret!r} does not point at column {expected.column}"
        )


def test_cli_in_a_real_process_exits_3_without_traceback() -> None:
    """Run as a real process on a YAML syntax error, sunup exits 3 and prints no Python traceback."""
    case = BROKEN / "yaml-unclosed-quote"
    result = subprocess.run(
        [sys.executable, "-m", "sunup", "-C", str(case), "validate"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        check=False,
    )
    assert result.returncode == EXIT_INVALID_CONFIG, result.stderr
    assert "Traceback" not in result.stderr
    assert ".upsun/config.yaml:3:11: error[yaml-syntax]: " in result.stderr


def _codes_in_source() -> set[str]:
    """Every diagnostic code written in sunup/config: the first argument of error()/warning()."""
    pattern = re.compile(r"\.(?:error|warning)\(\s*\"([a-z-]+)\"")
    return {code for path in (REPO / "sunup" / "config").glob("*.py") for code in pattern.findall(path.read_text())}


def test_every_code_has_a_broken_case() -> None:
    """Each diagnostic code sunup/config can emit is pinned by at least one broken case (or listed as unreachable)."""
    emitted = _codes_in_source()
    assert len(emitted) >= 30, "the code scan found too few codes: is the pattern still right?"
    covered = {e.code for case in CASES for e in case.expected}
    assert emitted - covered - set(UNREACHABLE_CODES) == set()
    assert covered <= emitted, f"expect.yaml names codes sunup does not have: {covered - emitted}"


def test_every_code_is_documented() -> None:
    """docs/diagnostics.md has a row for each diagnostic code."""
    text = (REPO / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.MULTILINE))
    assert _codes_in_source() - documented == set()


def test_there_are_enough_cases() -> None:
    """The broken corpus holds at least 45 cases (a guard against a broken folder walk)."""
    assert len(CASES) >= 45
