"""The top-level group's name, and the record of where top-level groups were made."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunup.isolation.ledger import Ledger, top_name


def test_the_top_level_name_depends_on_the_state_folder_only(tmp_path: Path) -> None:
    """One state folder always gives the same name; two folders give two names."""
    assert top_name(tmp_path / "a") == top_name(tmp_path / "a")
    assert top_name(tmp_path / "a") != top_name(tmp_path / "b")
    assert top_name(tmp_path / "a", "bench").startswith("bench-")


def test_a_top_level_name_with_a_slash_is_refused(tmp_path: Path) -> None:
    """A name that is not a plain lower-case word is a programming error."""
    with pytest.raises(ValueError):
        top_name(tmp_path, "../x")


def test_places_are_recorded_once_and_forgotten(tmp_path: Path) -> None:
    """record() adds a place once per backend; forget() removes it."""
    ledger = Ledger.of(tmp_path / "state")
    place = {"cpu": Path("/sys/fs/cgroup/cpu/sunup-x")}
    ledger.record("cgroup-v1", place)
    ledger.record("cgroup-v1", place)
    assert ledger.places("cgroup-v1") == [place]
    assert ledger.places("cgroup-v2") == []
    ledger.forget("cgroup-v1", place)
    assert ledger.places("cgroup-v1") == []


def test_a_damaged_ledger_reads_as_empty(tmp_path: Path) -> None:
    """A ledger that is not valid JSON is treated as no record at all."""
    ledger = Ledger.of(tmp_path)
    ledger.path.write_text("{not json")
    assert ledger.places("cgroup-v1") == []
