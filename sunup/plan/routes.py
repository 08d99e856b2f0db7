"""Routes: from the configuration's `routes` to `RoutePlan`s, then to local URLs (spec §10).

Three steps, all pure:

- `resolve_routes(routes, apps)`: the routes as the platform reads them, URLs still templates:
  defaults applied (type upstream, code 301, cache, ssi off), ``upstream: app:http`` → ``app``,
  paths normalised to start and end with "/", exactly one primary route (the ``primary: true``
  one, else the first upstream route on ``{default}``), and the routes the platform adds without
  being asked: the plain-HTTP twin of every ``https://`` route that has no ``http://`` route of the
  same host and path (a 301 to it), and, with no routes at all, its default routes.
- `local_routes(plans, address)`: each route at its URL on this machine (`LocalRoute`).
- `platform_routes(local)`: the ``PLATFORM_ROUTES`` object the platform gives its instances, key
  for key; `platform_routes_variable` is its base64 form.

**Decision** (local host names): ``{default}`` and ``{all}`` are the router's domain
(``localhost`` unless set), ``api.{default}`` is ``api.localhost``; a literal host such as
``example.com`` becomes ``example.com.localhost`` (``<host>.<domain>``), so that it still resolves
to this machine (browsers and curl send ``*.localhost`` to loopback) and no request for the real
site is ever answered locally. A literal host that already ends with the domain is kept.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sunup.config.units import parse_duration
from sunup.plan.model import CachePlan, RedirectPathPlan, RoutePlan, frozen_map
from sunup.router.address import RouterAddress

SCHEMES = ("https", "http")
#: The placeholders a route URL may hold.
PLACEHOLDERS = ("{default}", "{all}")
DEFAULT_REDIRECT_CODE = 301
#: `tls.min_version` as PLATFORM_ROUTES shows it: the TLS protocol number.
_TLS_VERSIONS = {"TLSv1.0": 769, "TLSv1.1": 770, "TLSv1.2": 771, "TLSv1.3": 772}
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/?#]*)(?P<path>[^?#]*)")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class UrlTemplate:
    """A route URL as written, split: ``https://api.{default}/v1`` → https, api.{default}, /v1/."""

    scheme: str
    host: str
    #: Starts and ends with "/".
    path: str

    @property
    def text(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"


def parse_url_template(text: str) -> UrlTemplate | str:
    """The template's parts, or a sentence saying what is wrong with it (no scheme, a scheme other
    than http/https, no host, a placeholder other than {default} and {all})."""
    found = _URL.match(text)
    if found is None:
        return "it has no scheme: write https://{default}/ or http://..."
    scheme = found["scheme"].lower()
    if scheme not in SCHEMES:
        return f"its scheme is '{found['scheme']}'; routes are http:// or https://"
    host = found["host"]
    if not host:
        return "it has no host: write {default}, api.{default} or a domain"
    for placeholder in _PLACEHOLDER.findall(text):
        if placeholder not in PLACEHOLDERS:
            return f"'{placeholder}' is not a placeholder (there are {{default}} and {{all}})"
    return UrlTemplate(scheme, host.lower(), normalize_path(found["path"]))


def normalize_path(path: str) -> str:
    """``""`` → ``/``; ``api`` → ``/api/``; ``/api/`` stays."""
    path = "/" + path.lstrip("/")
    return path if path.endswith("/") else path + "/"


def upstream_app(upstream: str) -> str:
    """``app:http`` → ``app``."""
    return upstream.split(":", 1)[0]


# -- resolution -------------------------------------------------------------------------------


def resolve_routes(routes: Mapping[str, Any] | None, apps: Sequence[str]) -> tuple[RoutePlan, ...]:
    """The project's routes as the router serves them (see the module docstring).

    Call it on a checked configuration: a route whose URL does not parse is left out (the checks
    report it), and values that do not parse take the platform's defaults.
    """
    written: list[RoutePlan] = []
    if routes:
        for url, spec in routes.items():
            plan = _route(str(url), spec if isinstance(spec, Mapping) else {})
            if plan is not None:
                written.append(plan)
    elif len(apps) == 1:
        written.append(_default_route("https://{default}/", apps[0]))
    else:  # Decision (spec §10): several apps and no routes: each at https://<app>.{default}/
        written.extend(_default_route(f"https://{app}.{{default}}/", app) for app in apps)
    plans = written + _http_twins(written)
    return _with_primary(plans)


def _default_route(url: str, app: str) -> RoutePlan:
    parsed = parse_url_template(url)
    assert isinstance(parsed, UrlTemplate)
    return RoutePlan(
        original_url=url,
        scheme=parsed.scheme,
        host=parsed.host,
        path=parsed.path,
        type="upstream",
        upstream=app,
        tls=frozen_map(_tls({})),
        generated=True,
    )


def _route(url: str, spec: Mapping[str, Any]) -> RoutePlan | None:
    parsed = parse_url_template(url)
    if not isinstance(parsed, UrlTemplate):
        return None
    kind = spec.get("type") or "upstream"
    upstream = spec.get("upstream")
    to = spec.get("to")
    code = spec.get("code")
    attributes = spec.get("attributes")
    found_redirects = spec.get("redirects")
    redirects: Mapping[str, Any] = found_redirects if isinstance(found_redirects, Mapping) else {}
    ssi = spec.get("ssi")
    return RoutePlan(
        original_url=url,
        scheme=parsed.scheme,
        host=parsed.host,
        path=parsed.path,
        type=str(kind),
        upstream=upstream_app(upstream) if kind == "upstream" and isinstance(upstream, str) else None,
        to=str(to) if kind != "upstream" and isinstance(to, str) else None,
        code=code if isinstance(code, int) and not isinstance(code, bool) else DEFAULT_REDIRECT_CODE,
        id=str(spec["id"]) if spec.get("id") is not None else None,
        primary=spec.get("primary") is True,
        attributes=frozen_map(
            {str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, Mapping) else {}
        ),
        cache=_cache(spec.get("cache")),
        ssi=isinstance(ssi, Mapping) and ssi.get("enabled") is True,
        redirects_expires=_duration_or_none(redirects.get("expires")),
        redirects=tuple(_redirect_paths(redirects.get("paths"))),
        tls=frozen_map(_tls(spec.get("tls"))),
    )


def _cache(spec: Any) -> CachePlan:
    if not isinstance(spec, Mapping):
        return CachePlan()
    default = CachePlan()
    ttl = spec.get("default_ttl")
    cookies, headers = spec.get("cookies"), spec.get("headers")
    return CachePlan(
        enabled=spec.get("enabled") is not False,
        default_ttl=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else default.default_ttl,
        cookies=tuple(str(c) for c in cookies) if isinstance(cookies, list) else default.cookies,
        headers=tuple(str(h) for h in headers) if isinstance(headers, list) else default.headers,
    )


def _redirect_paths(paths: Any) -> Iterable[RedirectPathPlan]:
    if not isinstance(paths, Mapping):
        return
    for path, spec in paths.items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("to"), str):
            continue
        code = spec.get("code")
        yield RedirectPathPlan(
            path=str(path),
            to=spec["to"],
            regexp=spec.get("regexp") is True,
            prefix=spec.get("prefix") is not False,
            append_suffix=spec.get("append_suffix") is not False,
            code=code if isinstance(code, int) and not isinstance(code, bool) else DEFAULT_REDIRECT_CODE,
            expires=_duration_or_none(spec.get("expires")),
        )


def _duration_or_none(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _tls(spec: Any) -> dict[str, Any]:
    """`tls` in the platform's shape: every key present, unset ones null."""
    spec = spec if isinstance(spec, Mapping) else {}
    hsts = spec.get("strict_transport_security")
    hsts = hsts if isinstance(hsts, Mapping) else {}
    authorities = spec.get("client_certificate_authorities")
    return {
        "client_authentication": spec.get("client_authentication"),
        "min_version": spec.get("min_version"),
        "client_certificate_authorities": list(authorities) if isinstance(authorities, list) else [],
        "strict_transport_security": {
            "enabled": hsts.get("enabled"),
            "include_subdomains": hsts.get("include_subdomains"),
            "preload": hsts.get("preload"),
        },
    }


def _http_twins(routes: Sequence[RoutePlan]) -> list[RoutePlan]:
    """The plain-HTTP redirect the platform adds for every https route without an http one."""
    plain = {(r.host, r.path) for r in routes if r.scheme == "http"}
    twins: list[RoutePlan] = []
    for route in routes:
        if route.scheme != "https" or (route.host, route.path) in plain:
            continue
        plain.add((route.host, route.path))
        twins.append(
            RoutePlan(
                original_url=f"http://{route.host}{route.path}",
                scheme="http",
                host=route.host,
                path=route.path,
                type="redirect",
                to=f"https://{route.host}{route.path}",
                code=DEFAULT_REDIRECT_CODE,
                generated=True,
            )
        )
    return twins


def _with_primary(routes: list[RoutePlan]) -> tuple[RoutePlan, ...]:
    """Exactly one primary: the first ``primary: true``, else the first upstream route on
    ``{default}``, else the first upstream route, else the first route."""
    chosen = next((i for i, r in enumerate(routes) if r.primary), None)
    if chosen is None:
        chosen = next((i for i, r in enumerate(routes) if r.type == "upstream" and r.host == "{default}"), None)
    if chosen is None:
        chosen = next((i for i, r in enumerate(routes) if r.type == "upstream"), 0 if routes else None)
    return tuple(replace(r, primary=i == chosen) if r.primary != (i == chosen) else r for i, r in enumerate(routes))


# -- on this machine --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalRoute:
    """A route at its URL on this machine."""

    #: The resolved URL, with the router's port: ``https://api.localhost:20081/v1/``.
    url: str
    #: The resolved host name (no port): ``api.localhost``.
    host: str
    route: RoutePlan
    #: The redirect's resolved target (redirect routes only).
    to: str | None = None


def local_host(host: str, domain: str) -> str:
    """A route's host on this machine (the module docstring's Decision)."""
    if "{default}" in host or "{all}" in host:
        return host.replace("{default}", domain).replace("{all}", domain)
    if host == domain or host.endswith("." + domain):
        return host
    return f"{host}.{domain}"


def resolve_url(url: str, address: RouterAddress) -> str:
    """A URL or URL template as it reads on this machine: ``https://{default}/`` →
    ``https://localhost:20081/``. A path (``/new``) or a URL sunup cannot read is kept as written;
    the path and query of a URL are kept as written ("/" added when there is none)."""
    found = _URL.match(url)
    if found is None or found["scheme"].lower() not in SCHEMES or not found["host"]:
        return url
    scheme = found["scheme"].lower()
    host = local_host(found["host"].lower(), address.domain)
    rest = url[found.end("host") :] or "/"
    return f"{scheme}://{address.authority(scheme, host)}{rest}"


def local_routes(routes: Iterable[RoutePlan], address: RouterAddress) -> tuple[LocalRoute, ...]:
    """Each route at its local URL. Two templates that resolve to one URL (``https://{default}/``
    and ``https://{all}/``): the first one is kept, as written routes come before generated ones."""
    found: dict[str, LocalRoute] = {}
    for route in routes:
        host = local_host(route.host, address.domain)
        url = f"{route.scheme}://{address.authority(route.scheme, host)}{route.path}"
        if url in found:
            continue
        to = resolve_url(route.to, address) if route.to is not None else None
        found[url] = LocalRoute(url=url, host=host, route=route, to=to)
    return tuple(found.values())


def primary_route(routes: Iterable[LocalRoute]) -> LocalRoute | None:
    return next((r for r in routes if r.route.primary), None)


def platform_routes(routes: Iterable[LocalRoute]) -> dict[str, dict[str, Any]]:
    """``PLATFORM_ROUTES`` decoded: one entry per resolved URL, with the keys the platform gives
    each (upstream routes: cache, ssi, tls, upstream; redirects: to; the http twins the platform
    generates carry no attributes or tls). `redirects` (partial redirects) is left out, as the
    platform leaves it out of this document."""
    document: dict[str, dict[str, Any]] = {}
    for local in routes:
        route = local.route
        entry: dict[str, Any] = {
            "primary": route.primary,
            "id": route.id,
            "production_url": local.url,
        }
        if not route.generated or route.type == "upstream":
            entry["attributes"] = dict(route.attributes)
        entry["type"] = route.type
        if route.type == "upstream":
            entry["upstream"] = route.upstream
        else:
            entry["to"] = local.to
        entry["original_url"] = route.original_url
        if route.type == "upstream":
            entry["cache"] = route.cache.to_json()
            entry["ssi"] = {"enabled": route.ssi}
        entry["restrict_robots"] = False
        if route.scheme == "https":
            entry["tls"] = _platform_tls(route.tls)
        entry["http_access"] = {"addresses": [], "basic_auth": {}}
        document[local.url] = entry
    return document


def _platform_tls(tls: Mapping[str, Any]) -> dict[str, Any]:
    shown = _tls(tls)
    version = shown["min_version"]
    if isinstance(version, str):
        shown["min_version"] = _TLS_VERSIONS.get(version, version)
    return shown


def platform_routes_variable(routes: Iterable[LocalRoute]) -> str:
    """The value of ``PLATFORM_ROUTES``: base64 of the JSON of `platform_routes`."""
    text = json.dumps(platform_routes(routes), separators=(",", ":"))
    return base64.b64encode(text.encode()).decode("ascii")
