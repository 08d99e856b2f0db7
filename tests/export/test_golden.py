"""The exported YAML of the seed example and of a project with crons and hooks, as golden files.

Regenerate after an intended change: ``SUNUP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/export/test_golden.py`` (tests/data/kubernetes/README.md), then read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sunup.cli.export_commands import to_yaml
from tests.export.kube import DATA, SEED, export_of, external

CASES: dict[str, tuple[Path, dict[str, Any]]] = {
    "workers": (SEED, {}),
    "workers-external": (SEED, external()),
    "crons-hooks": (DATA / "crons-hooks", {"domain": "shop.example.org", "storage_class": "cephfs"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    """The export of each case is byte for byte its golden file (objects, order, comments)."""
    project, changes = CASES[name]
    result = export_of(project, **changes)
    text = to_yaml(result.objects, result.warnings)
    golden = DATA / f"{name}.yaml"
    if os.environ.get("SUNUP_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with SUNUP_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{name}: the export differs from {golden}"


def test_export_is_stable() -> None:
    """Two exports of one plan are equal, object for object and in the same order."""
    first, second = export_of(SEED), export_of(SEED)
    assert first == second
