"""Shared test fixtures: where the shared corpus is, and small project builders."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The corpus of real configurations lives beside the repository (../shared), never copied in.
SHARED = Path(os.environ.get("SUNUP_SHARED_DIR", REPO.parent / "shared"))
CORPUS = SHARED / "corpus" / "upsun-configs"
EXAMPLES = REPO / "examples"


def project_maker(base: Path) -> Callable[..., Path]:
    """`make_project`, making its folders in `base`."""

    def make(files: dict[str, str], name: str = "project") -> Path:
        root = base / name
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return make


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Write files (relative path -> text) into a fresh project folder and return it."""
    return project_maker(tmp_path)
