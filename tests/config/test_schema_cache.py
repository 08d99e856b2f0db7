"""The schema-check cache of `read_config`: only clean documents are remembered, by their data."""

from __future__ import annotations

from pathlib import Path

import pytest

import sunup.config.checks
from sunup.config import read_config

VALID = 'applications:\n  app:\n    type: "nodejs:20"\n    web:\n      commands:\n        start: "sleep 1"\n'
INVALID = 'applications:\n  app:\n    type: "nodejs:20"\n    sizee: S\n    web:\n      commands:\n        start: "x"\n'


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".upsun").mkdir(exist_ok=True)
    (tmp_path / ".upsun" / "config.yaml").write_text(text)
    (tmp_path / ".sunup").mkdir(exist_ok=True)
    return tmp_path


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = sunup.config.checks.check_schema

    def counting(*args: object, **kwargs: object) -> None:
        calls.append(1)
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sunup.config.checks, "check_schema", counting)
    return calls


def test_a_clean_document_is_checked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, VALID)
    cache = root / ".sunup" / "schema-valid"
    calls = _count_checks(monkeypatch)
    assert not read_config(root, schema_cache=cache).diagnostics.has_errors()
    assert cache.is_file()
    assert not read_config(root, schema_cache=cache).diagnostics.has_errors()
    assert len(calls) == 1
    read_config(root)  # no cache (`sunup validate`): always checked
    assert len(calls) == 2


def test_a_changed_document_is_checked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, VALID)
    cache = root / ".sunup" / "schema-valid"
    read_config(root, schema_cache=cache)
    _project(root, INVALID)
    for _ in range(2):  # an invalid document is never remembered: its errors show every time
        loaded = read_config(root, schema_cache=cache)
        assert loaded.diagnostics.has_errors()
        assert any("sizee" in str(d.message) for d in loaded.diagnostics)


def test_no_state_folder_no_cache(tmp_path: Path) -> None:
    root = _project(tmp_path, VALID)
    (root / ".sunup").rmdir()
    read_config(root, schema_cache=root / ".sunup" / "schema-valid")
    assert not (root / ".sunup").exists()
