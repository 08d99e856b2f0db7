"""The router's nginx.conf rendered from real projects' routes and locations, as golden files.

Each case is a project of the shared corpus (read from there, never copied): its plan becomes a
`RouterSite` under a fixed folder (``/srv/sunup-golden``) and fixed ports, and the rendered
configuration must be byte for byte ``tests/data/golden/router/<case>.conf``. The same site under
a temporary folder (certificate made, links made) must also pass ``nginx -t``.

Regenerate after an intended change: ``SUNUP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/router/test_render.py``, then read the diff.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from sunup.plan.model import ProjectPlan
from sunup.router.address import RouterAddress
from sunup.router.render import links, literal, quote, render
from sunup.router.runner import find_nginx
from sunup.router.site import SOCKET_PATH_LIMIT, RouterSite
from tests.conftest import CORPUS
from tests.plan.golden import REPO, resolve
from tests.router.rig import make_site, nginx_refusal

GOLDEN = REPO / "tests" / "data" / "golden" / "router"
FIXED = Path("/srv/sunup-golden")
ADDRESS = RouterAddress(http_port=20080, https_port=20081)
#: Case name → project under the corpus, chosen for what its routes and locations exercise.
CASES = {
    # literal domains, whole-route redirects, a partial redirect, cache off, rules, expires
    "sinese": "La-Societe-Nouvelle__SINESE-Portal",
    # a PHP front controller (passthru "/index.php"), allow: false with rules, a files location
    # inside the root that is a mount, cache keyed by cookie patterns, a www redirect
    "drupal10": "platformsh__template-builder/templates/drupal10/files",
    # subdomains of {default}, route ids, a primary, two apps
    "nextjs-drupal": "platformsh-templates__nextjs-drupal",
    # path routes to several apps (the most specific wins), a subdomain, cache blocks, ssi
    "bigfoot": "upsun__bigfoot-multiapp-example@final-version",
    # tls.strict_transport_security, a legacy single app
    "nextcloud": "platformsh-templates__nextcloud",
}


def plan_of(case: str) -> ProjectPlan:
    project = CORPUS / CASES[case]
    if not project.is_dir():
        pytest.skip(f"the shared corpus has no {CASES[case]}")
    return resolve(project)


def site_of(plan: ProjectPlan, base: Path, *, ca: Path | None = None) -> RouterSite:
    """The case's site under `base`: each app at base/apps/<app>, its web instance on a unix
    socket, its web mounts in base/volumes."""
    mounts = {
        app.name: {m.path: base / "volumes" / m.volume / m.source_path for m in app.web.mounts} for app in plan.apps
    }
    upstreams = {
        app.name: (f"unix:{_web_socket(base, app.name)}",) for app in plan.apps if app.web.commands is not None
    }
    return make_site(plan, base, ADDRESS, upstreams=upstreams, mounts=mounts, ca=ca, user=None)


def _web_socket(base: Path, app: str) -> Path:
    """base/run/<app>/web.0.sock, or a short path of the same name under $TMPDIR when that one
    is too long for a unix socket (a deep tmp_path: pytest-xdist's adds popen-gwN/), which
    nginx -t refuses. nginx -t never opens the socket: nothing is made there."""
    path = base / "run" / app / "web.0.sock"
    if len(str(path)) <= SOCKET_PATH_LIMIT:
        return path
    digest = hashlib.sha256(str(base).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"sunup-rig-{digest}" / app / "web.0.sock"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    """The configuration of each corpus project is byte for byte its golden file."""
    text = render(site_of(plan_of(case), FIXED))
    golden = GOLDEN / f"{case}.conf"
    if os.environ.get("SUNUP_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with SUNUP_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{case}: the configuration differs from {golden}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_nginx_accepts(case: str, tmp_path: Path) -> None:
    """nginx -t accepts each corpus project's configuration, with its certificate and links made."""
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed")
    site = site_of(plan_of(case), tmp_path, ca=tmp_path / "ca")
    refusal = nginx_refusal(nginx, site)
    assert refusal is None, f"nginx -t refused {case}:\n{refusal}"


def test_every_route_is_served(tmp_path: Path) -> None:
    """Each resolved route of each case has a server for its host and a location for its path."""
    for case in sorted(CASES):
        site = site_of(plan_of(case), FIXED)
        text = render(site)
        for route in site.routes:
            assert f"server_name {quote(route.host)};" in text, f"{case}: no server for {route.url}"
            assert f"location {quote(route.path)} {{  # {route.route.original_url}" in text or any(
                other.path == route.path and other.host == route.host and other is not route for other in site.routes
            ), f"{case}: no location for {route.url}"


def test_links_stay_in_the_router_folder() -> None:
    """Every link the configuration reaches static files through is in the router's folder."""
    for case in sorted(CASES):
        site = site_of(plan_of(case), FIXED)
        for link in links(site):
            assert link.is_relative_to(site.folder / "roots"), f"{case}: {link} is outside the router's folder"


def test_literal_keeps_dollars_and_quotes() -> None:
    """A value with `$`, quotes and backslashes is said as written, never read as a variable."""
    said = literal('a "$b" \\ c')
    assert "$b" not in said.replace("${sunup_dollar}", "")
    assert said == 'a \\"${sunup_dollar}b\\" \\\\ c'
