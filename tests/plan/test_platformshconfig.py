"""The platform's own Python reader, `platformshconfig`, reads sunup's PLATFORM_ROUTES unchanged."""

from __future__ import annotations

import pytest
from platformshconfig import Config

from sunup.config import read_config
from sunup.plan.resolve import HostFacts, resolve_project
from sunup.plan.routes import local_routes, platform_routes_variable, resolve_routes
from sunup.router.address import RouterAddress
from tests.conftest import CORPUS

ADDRESS = RouterAddress(http_port=20080, https_port=20081)


def _config(variable: str) -> Config:
    """A runtime environment as an instance sees it (PLATFORM_ENVIRONMENT set: not the build)."""
    return Config(
        {
            "PLATFORM_APPLICATION_NAME": "app",
            "PLATFORM_ENVIRONMENT": "main",
            "PLATFORM_PROJECT": "project",
            "PLATFORM_ROUTES": variable,
        }
    )


def test_routes_primary_and_get_route_work_on_written_routes() -> None:
    """routes(), get_route(id) and get_primary_route() answer from the resolved local URLs."""
    routes = {
        "https://{default}/": {"type": "upstream", "upstream": "app:http", "id": "main"},
        "https://api.{default}/": {"type": "upstream", "upstream": "api:http", "id": "api"},
        "https://www.{default}/": {"type": "redirect", "to": "https://{default}/"},
    }
    config = _config(platform_routes_variable(local_routes(resolve_routes(routes, ["app", "api"]), ADDRESS)))
    assert set(config.routes()) == {
        "https://localhost:20081/",
        "https://api.localhost:20081/",
        "https://www.localhost:20081/",
        "http://localhost:20080/",
        "http://api.localhost:20080/",
        "http://www.localhost:20080/",
    }
    primary = config.get_primary_route()
    assert (primary["original_url"], primary["upstream"]) == ("https://{default}/", "app")
    api = config.get_route("api")
    assert (api["url"], api["upstream"]) == ("https://api.localhost:20081/", "api")
    assert set(config.get_upstream_routes("api")) == {"https://api.localhost:20081/"}
    with pytest.raises(KeyError):
        config.get_route("nope")


def test_the_platform_default_route_is_primary() -> None:
    """Without routes, get_primary_route() is the default https route to the single app."""
    config = _config(platform_routes_variable(local_routes(resolve_routes({}, ["app"]), ADDRESS)))
    primary = config.get_primary_route()
    assert (primary["type"], primary["upstream"], primary["original_url"]) == ("upstream", "app", "https://{default}/")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")
def test_a_corpus_project_with_route_ids() -> None:
    """nextjs-drupal's routes (ids client and api, subdomains, redirects) read back by id."""
    loaded = read_config(CORPUS / "platformsh-templates__nextjs-drupal")
    plan = resolve_project(loaded, HostFacts(project="p", project_entropy="e"))
    config = _config(platform_routes_variable(local_routes(plan.route_plans, ADDRESS)))
    assert config.get_primary_route()["id"] == "client"
    assert config.get_route("client")["url"] == "https://localhost:20081/"
    assert config.get_route("api")["url"] == "https://api.localhost:20081/"
    assert config.get_route("api")["upstream"] == "drupal"
