"""Every valid project of the shared corpus gets a router configuration that nginx accepts.

The projects are the ones `tests/config/test_corpus.py` walks (read from the corpus, never
copied); each one's site is rendered under a temporary folder, its certificate and links made,
and checked with ``nginx -t``. About 200 projects, a few seconds: marked slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.plan.resolve import resolve_project
from sunup.router.runner import find_nginx
from tests.config.test_corpus import CASES, KNOWN_INVALID
from tests.plan.golden import FACTS
from tests.router.rig import nginx_refusal
from tests.router.test_render import site_of

pytestmark = pytest.mark.slow

VALID = [c for c in CASES if c[0] not in KNOWN_INVALID and c[0].split("#", maxsplit=1)[0] not in KNOWN_INVALID]


@pytest.mark.parametrize(("name", "root", "prefer"), VALID, ids=[c[0] for c in VALID])
def test_nginx_accepts_the_corpus_project(name: str, root: Path, prefer: str | None, tmp_path: Path) -> None:
    """The project's rendered configuration passes nginx -t."""
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed")
    loaded = read_config(root, prefer=prefer)
    assert not loaded.diagnostics.errors, f"{name} has configuration errors (tests/config/test_corpus.py says which)"
    site = site_of(resolve_project(loaded, FACTS), tmp_path, ca=tmp_path / "ca")
    refusal = nginx_refusal(nginx, site)
    assert refusal is None, f"nginx -t refused {name}:\n{refusal}"
