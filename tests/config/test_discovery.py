"""Finding the project from any folder inside it, as the platform reads a repository (spec §1).

A repository is one project: `.upsun/` at its root, or the legacy `.platform/` folder (routes,
services, `applications.yaml`) at its root with apps in sub-folders, each with its own
`.platform.app.yaml`. The multi-app projects of the shared corpus are found from their root, from
each app's folder and from a folder deep inside an app.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sunup.config.loader import find_project_root
from sunup.errors import ProjectNotFoundError
from tests.conftest import CORPUS, copy_project


def _multi_app_roots() -> list[Path]:
    """Corpus roots with `.platform/` and no `.platform.app.yaml` of their own (some also have
    `.upsun/`): their apps are in sub-folders or in `.platform/applications.yaml`."""
    roots = []
    for folder, dirs, files in os.walk(CORPUS):
        if ".platform" in dirs and ".platform.app.yaml" not in files:
            roots.append(Path(folder))
    return sorted(roots)


def _app_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob(".platform.app.yaml"))


ROOTS = _multi_app_roots() if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")


@needs_corpus
def test_the_corpus_has_the_multi_app_shapes() -> None:
    """The corpus holds the 13 multi-app templates with apps in sub-folders, and applications.yaml projects."""
    in_folders = [r for r in ROOTS if len(_app_folders(r)) >= 2]
    listed = [r for r in ROOTS if (r / ".platform" / "applications.yaml").is_file()]
    assert len(in_folders) >= 13, in_folders
    assert len(listed) >= 5, listed


@needs_corpus
@pytest.mark.parametrize("root", ROOTS, ids=[str(r.relative_to(CORPUS)) for r in ROOTS])
def test_a_multi_app_project_is_found_from_its_root_and_from_inside(root: Path, tmp_path: Path) -> None:
    """From the root, each app's folder and a folder deep inside one, the project is its root."""
    copy = copy_project(root, tmp_path / "repo")  # no .git: a download, not a clone
    assert find_project_root(copy) == copy
    for app in _app_folders(copy):
        assert find_project_root(app) == copy, f"from {app.relative_to(copy)}"
        deep = app / "src" / "deep"
        deep.mkdir(parents=True)
        assert find_project_root(deep) == copy, f"from {deep.relative_to(copy)}"
    inside = copy / "some" / "folder"
    inside.mkdir(parents=True)
    assert find_project_root(inside) == copy


def test_a_lone_app_file_is_its_own_project(tmp_path: Path) -> None:
    """A folder with `.platform.app.yaml` and no `.platform/` above is the project (single-app legacy)."""
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / ".platform.app.yaml").write_text("name: app\ntype: python:3.12\n")
    assert find_project_root(tmp_path / "app" / "src") == tmp_path / "app"


def test_platform_folder_with_routes_is_a_root_without_git(tmp_path: Path) -> None:
    """`.platform/routes.yaml` marks the root even when the project is not a git clone."""
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "routes.yaml").write_text('"https://{default}/": {type: upstream, upstream: "a:http"}\n')
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".platform.app.yaml").write_text("name: a\ntype: python:3.12\n")
    assert find_project_root(tmp_path / "a") == tmp_path


def test_an_app_in_its_own_git_clone_stops_the_walk(tmp_path: Path) -> None:
    """An app folder that is a git clone of its own is the project, whatever `.platform/` lies above."""
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "services.yaml").write_text("db: {type: 'mariadb:11.4'}\n")
    app = tmp_path / "checkout"
    (app / ".git").mkdir(parents=True)
    (app / ".platform.app.yaml").write_text("name: app\ntype: python:3.12\n")
    assert find_project_root(app) == app


def test_no_project_is_an_error_naming_the_folder(tmp_path: Path) -> None:
    """Without any configuration at or above the folder, ProjectNotFoundError names it."""
    with pytest.raises(ProjectNotFoundError, match="no Upsun project"):
        find_project_root(tmp_path)
