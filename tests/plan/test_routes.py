"""Routes resolved as the platform resolves them, then placed on this machine (spec §10)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sunup.plan.routes import (
    local_host,
    local_routes,
    parse_url_template,
    platform_routes,
    platform_routes_variable,
    resolve_routes,
    resolve_url,
)
from sunup.router.address import RouterAddress

ADDRESS = RouterAddress(http_port=20080, https_port=20081)


def _urls(routes: dict[str, Any] | None, apps: list[str]) -> list[tuple[str, str, str | None, bool, bool]]:
    return [(r.original_url, r.type, r.upstream or r.to, r.primary, r.generated) for r in resolve_routes(routes, apps)]


def test_no_routes_gives_the_platform_default() -> None:
    """Without routes, one app is at https://{default}/ with a generated http redirect to it."""
    assert _urls({}, ["app"]) == [
        ("https://{default}/", "upstream", "app", True, True),
        ("http://{default}/", "redirect", "https://{default}/", False, True),
    ]


def test_several_apps_without_routes_get_a_subdomain_each() -> None:
    """Decision: several apps and no routes: https://<app>.{default}/ each, the first primary."""
    assert [u[:4] for u in _urls(None, ["front", "back"])] == [
        ("https://front.{default}/", "upstream", "front", True),
        ("https://back.{default}/", "upstream", "back", False),
        ("http://front.{default}/", "redirect", "https://front.{default}/", False),
        ("http://back.{default}/", "redirect", "https://back.{default}/", False),
    ]


def test_defaults_and_normalisation() -> None:
    """Type upstream, `app:http` → app, code 301, cache and ssi defaults, paths with slashes."""
    (route, twin) = resolve_routes({"https://{default}/api": {"upstream": "api:http"}}, ["api"])
    assert (route.type, route.upstream, route.path, route.code, route.ssi) == ("upstream", "api", "/api/", 301, False)
    assert route.cache.to_json() == {
        "enabled": True,
        "default_ttl": 0,
        "cookies": ["*"],
        "headers": ["Accept", "Accept-Language"],
    }
    assert (twin.original_url, twin.to, twin.generated) == ("http://{default}/api/", "https://{default}/api/", True)


def test_an_http_route_written_is_no_twin() -> None:
    """An https route with an http route of the same host and path gets no generated twin."""
    routes = {
        "https://{default}/": {"type": "upstream", "upstream": "app:http"},
        "http://{default}/": {"type": "redirect", "to": "https://{default}/", "code": 308},
    }
    plans = resolve_routes(routes, ["app"])
    assert [(p.original_url, p.code, p.generated) for p in plans] == [
        ("https://{default}/", 301, False),
        ("http://{default}/", 308, False),
    ]


def test_primary_is_the_marked_one_else_the_first_upstream_on_default() -> None:
    """`primary: true` wins; without it, the first upstream route on {default}; exactly one either way."""
    marked = {
        "https://{default}/": {"upstream": "app:http"},
        "https://api.{default}/": {"upstream": "app:http", "primary": True},
    }
    assert [p.original_url for p in resolve_routes(marked, ["app"]) if p.primary] == ["https://api.{default}/"]
    unmarked = {
        "https://www.{default}/": {"type": "redirect", "to": "https://{default}/"},
        "https://api.{default}/": {"upstream": "app:http"},
        "https://{default}/": {"upstream": "app:http"},
    }
    assert [p.original_url for p in resolve_routes(unmarked, ["app"]) if p.primary] == ["https://{default}/"]


def test_redirect_paths_and_tls() -> None:
    """Partial redirects take their defaults and durations in seconds; tls has the platform's keys."""
    routes = {
        "https://{default}/": {
            "upstream": "app:http",
            "redirects": {"expires": "1d", "paths": {"^/a/(.*)$": {"to": "/b/\\1", "regexp": True, "code": 302}}},
            "tls": {"strict_transport_security": {"enabled": True}, "min_version": "TLSv1.2"},
        }
    }
    route = resolve_routes(routes, ["app"])[0]
    assert route.redirects_expires == 86400
    (path,) = route.redirects
    assert (path.path, path.to, path.regexp, path.prefix, path.append_suffix, path.code, path.expires) == (
        "^/a/(.*)$",
        "/b/\\1",
        True,
        True,
        True,
        302,
        None,
    )
    assert route.hsts == {"enabled": True, "include_subdomains": None, "preload": None}
    entry = platform_routes(local_routes([route], ADDRESS))["https://localhost:20081/"]
    assert entry["tls"]["min_version"] == 771
    assert "redirects" not in entry


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("{default}", "localhost"),
        ("{all}", "localhost"),
        ("api.{default}", "api.localhost"),
        ("www.api.{default}", "www.api.localhost"),
        ("example.com", "example.com.localhost"),
        ("shop.localhost", "shop.localhost"),
    ],
)
def test_local_hosts(host: str, local: str) -> None:
    """{default} and {all} are the domain, subdomains stay subdomains, a literal host is <host>.<domain>."""
    assert local_host(host, "localhost") == local


def test_local_urls_carry_the_ports_and_resolved_targets() -> None:
    """Resolved URLs have the router's ports; a redirect's `to` is resolved the same way."""
    routes = {
        "https://{default}/": {"upstream": "app:http"},
        "https://example.com/": {"type": "redirect", "to": "https://www.example.com/path"},
    }
    local = local_routes(resolve_routes(routes, ["app"]), ADDRESS)
    assert [(r.url, r.host, r.to) for r in local] == [
        ("https://localhost:20081/", "localhost", None),
        (
            "https://example.com.localhost:20081/",
            "example.com.localhost",
            "https://www.example.com.localhost:20081/path",
        ),
        ("http://localhost:20080/", "localhost", "https://localhost:20081/"),
        ("http://example.com.localhost:20080/", "example.com.localhost", "https://example.com.localhost:20081/"),
    ]
    assert resolve_url("/relative/path", ADDRESS) == "/relative/path"
    assert resolve_url("https://{default}", RouterAddress(80, 443, "dev.test")) == "https://dev.test/"


def test_default_and_all_on_one_url_keep_the_first() -> None:
    """`https://{default}/` and `https://{all}/` resolve to one URL: the first written is kept."""
    routes = {
        "https://{default}/": {"upstream": "a:http"},
        "https://{all}/": {"upstream": "b:http"},
    }
    local = local_routes(resolve_routes(routes, ["a", "b"]), ADDRESS)
    assert [(r.url, r.route.upstream) for r in local] == [
        ("https://localhost:20081/", "a"),
        ("http://localhost:20080/", None),
    ]


def test_platform_routes_variable_is_base64_json() -> None:
    """PLATFORM_ROUTES decodes to the platform_routes document."""
    local = local_routes(resolve_routes({}, ["app"]), ADDRESS)
    decoded = json.loads(base64.b64decode(platform_routes_variable(local)))
    assert decoded == platform_routes(local)
    assert list(decoded) == ["https://localhost:20081/", "http://localhost:20080/"]
    assert decoded["http://localhost:20080/"] == {
        "primary": False,
        "id": None,
        "production_url": "http://localhost:20080/",
        "type": "redirect",
        "to": "https://localhost:20081/",
        "original_url": "http://{default}/",
        "restrict_robots": False,
        "http_access": {"addresses": [], "basic_auth": {}},
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{default}/", "no scheme"),
        ("ftp://{default}/", "scheme"),
        ("https:///", "no host"),
        ("https://{env}/", "'{env}' is not a placeholder"),
    ],
)
def test_bad_templates_say_why(text: str, problem: str) -> None:
    """A URL template without scheme or host, or with an unknown placeholder, is refused with a reason."""
    found = parse_url_template(text)
    assert isinstance(found, str) and problem in found
