"""Checks of meaning for `routes` and `web.locations` (spec §10, §11), called by `semantics`.

Each check guards its own types (the schema check reports wrong types) and reports through the
checker's `error` / `warning`, at the offending key or value, with a hint.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from sunup.config.diagnostics import did_you_mean
from sunup.config.units import DURATION_HINT, SIZE_HINT, parse_duration, parse_size
from sunup.config.yamlfile import DataPath

#: PCRE's `(?<name>...)` is Python's `(?P<name>...)`; look-behinds `(?<=` `(?<!` are the same.
_PCRE_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
#: The service types the platform lets a route send to (a cache in front of the apps).
ROUTABLE_SERVICE_KINDS = ("varnish",)


class Reporter(Protocol):
    apps: dict[str, Any]
    services: dict[str, Any]

    def error(self, code: str, message: str, path: DataPath, *, at_key: bool = True, hint: str | None = None) -> None:
        """Report an error at `path`'s key (or value)."""

    def warning(
        self, code: str, message: str, path: DataPath, *, at_key: bool = False, hint: str | None = None
    ) -> None:
        """Report a warning at `path`'s value (or key)."""

    def service_kind(self, name: str) -> str | None:
        """The kind of service `name` (``mariadb``), or None."""


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` is no regular expression nginx would accept (None: it is one)."""
    try:
        re.compile(_PCRE_NAMED_GROUP.sub("(?P<", pattern))
    except re.error as exc:
        return str(exc)
    return None


def check_routes(reporter: Reporter, data: dict[str, Any]) -> None:
    """Every route, the primaries, and the platform's default when there are no routes."""
    from sunup.plan.routes import parse_url_template

    routes = data.get("routes")
    if not routes and len(reporter.apps) > 1:
        reporter.warning(
            "routes-several-apps",
            f"{len(reporter.apps)} applications and no routes: each is served at https://<app>.{{default}}/ "
            f"({', '.join(f'{app}.{{default}}' for app in reporter.apps)})",
            ("applications", next(iter(reporter.apps))),
            at_key=True,
            hint="write `routes:` to choose the URLs (the platform leaves this case undefined)",
        )
    if not isinstance(routes, dict):
        return
    first_primary: DataPath | None = None
    for url, route in routes.items():
        path: DataPath = ("routes", url)
        parsed = parse_url_template(str(url))
        if isinstance(parsed, str):
            reporter.error(
                "bad-route-url",
                f"route '{url}' is not a URL template: {parsed}",
                path,
                hint="such as https://{default}/, https://www.{default}/ or https://{default}/api/",
            )
        if not isinstance(route, dict):
            continue
        if route.get("primary") is True:
            if first_primary is None:
                first_primary = path
            else:
                reporter.error(
                    "duplicate-primary",
                    f"route '{url}' is primary, and so is '{first_primary[1]}': a project has one primary route",
                    path + ("primary",),
                    hint=f"remove `primary: true` from one of them (the first is at {first_primary[1]})",
                )
        check_route(reporter, str(url), route, parsed if not isinstance(parsed, str) else None)


def check_route(reporter: Reporter, url: str, route: dict[str, Any], parsed: Any) -> None:
    from sunup.plan.routes import normalize_path, parse_url_template

    path: DataPath = ("routes", url)
    kind = route.get("type") or "upstream"
    if kind == "upstream":
        upstream = route.get("upstream")
        if upstream is None:
            reporter.error("missing-key", f"route '{url}' of type upstream needs `upstream: app:http`", path)
        elif isinstance(upstream, str):
            _check_upstream(reporter, url, upstream.split(":", 1)[0], path + ("upstream",))
    elif kind == "redirect":
        to = route.get("to")
        if not to:
            reporter.error("missing-key", f"route '{url}' of type redirect needs `to:`", path)
        elif isinstance(to, str) and "://" in to:
            target = parse_url_template(to)
            if isinstance(target, str):
                reporter.error(
                    "bad-route-url",
                    f"route '{url}' redirects to '{to}', which is not a URL template: {target}",
                    path + ("to",),
                    at_key=False,
                    hint="such as https://{default}/ or https://www.example.com/",
                )
            elif parsed is not None and target == parsed:
                reporter.error(
                    "redirect-to-itself",
                    f"route '{url}' redirects to itself: every request would be redirected again",
                    path + ("to",),
                    at_key=False,
                    hint="point `to:` at another route, such as https://{default}/",
                )
    redirects = route.get("redirects")
    if not isinstance(redirects, dict):
        return
    check_duration(reporter, path + ("redirects", "expires"), redirects.get("expires"))
    paths = redirects.get("paths")
    if not isinstance(paths, dict):
        return
    for source, spec in paths.items():
        spath = path + ("redirects", "paths", source)
        if not isinstance(spec, dict):
            reporter.error("wrong-type", f"redirect '{source}' must be a mapping with `to:`", spath, at_key=False)
            continue
        to = spec.get("to")
        if not isinstance(to, str) or not to:
            reporter.error("missing-key", f"redirect '{source}' of route '{url}' needs `to:`", spath)
        if spec.get("regexp") is True:
            problem = regex_problem(str(source))
            if problem is not None:
                reporter.error(
                    "bad-regex",
                    f"redirect '{source}' has `regexp: true` but is not a regular expression: {problem}",
                    spath,
                    hint="a PCRE regex as nginx reads it, such as '^/old/(.*)$' (groups are \\1, \\2 in `to`)",
                )
        elif isinstance(to, str) and to.startswith("/") and normalize_path(to) == normalize_path(str(source)):
            reporter.error(
                "redirect-to-itself",
                f"redirect '{source}' of route '{url}' redirects to itself",
                spath + ("to",),
                at_key=False,
                hint="point `to:` at another path or URL",
            )
        check_duration(reporter, spath + ("expires",), spec.get("expires"))


def _check_upstream(reporter: Reporter, url: str, name: str, at: DataPath) -> None:
    if name in reporter.apps:
        return
    if name in reporter.services:
        kind = reporter.service_kind(name)
        if kind in ROUTABLE_SERVICE_KINDS:
            reporter.warning(
                "upstream-service",
                f"route '{url}' sends to the {kind} service '{name}'; sunup's router does not run it",
                at,
                hint="locally the route answers 502; point it at an application's web instance to try the app",
            )
            return
        reporter.error(
            "upstream-not-app",
            f"route '{url}' sends to '{name}', a service ({kind or 'unknown type'}); routes send to applications",
            at,
            at_key=False,
            hint=_apps_hint(reporter),
        )
        return
    worker = _worker_named(reporter, name)
    if worker is not None:
        reporter.error(
            "upstream-not-app",
            f"route '{url}' sends to '{name}', a worker of application '{worker}'; workers are never reachable "
            "through the router",
            at,
            at_key=False,
            hint=f"send it to the application's web instance: '{worker}:http'",
        )
        return
    reporter.error(
        "unknown-upstream",
        f"route '{url}' sends to '{name}', but no application is called so",
        at,
        at_key=False,
        hint=did_you_mean(name, reporter.apps) or _apps_hint(reporter),
    )


def _apps_hint(reporter: Reporter) -> str | None:
    return f"applications: {', '.join(reporter.apps)}" if reporter.apps else None


def _worker_named(reporter: Reporter, name: str) -> str | None:
    """The app that has a worker called `name` (or ``app--name``), if any."""
    for app, spec in reporter.apps.items():
        workers = spec.get("workers") if isinstance(spec, dict) else None
        if isinstance(workers, dict) and any(name in (worker, f"{app}--{worker}") for worker in workers):
            return str(app)
    return None


# -- web.locations --------------------------------------------------------------------------


def check_web(reporter: Reporter, path: DataPath, web: dict[str, Any]) -> None:
    """`web.locations` (regexes of `rules`, durations, sizes) and the legacy `expires`,
    `whitelist`, `blacklist`."""
    check_duration(reporter, path + ("expires",), web.get("expires"))
    for key in ("whitelist", "blacklist"):
        patterns = web.get(key)
        if isinstance(patterns, list):
            for index, pattern in enumerate(patterns):
                if isinstance(pattern, str):
                    _check_rule_regex(reporter, path + (key, index), pattern, at_key=False)
    locations = web.get("locations")
    if not isinstance(locations, dict):
        return
    for prefix, location in locations.items():
        if not isinstance(location, dict):
            continue
        lpath = path + ("locations", prefix)
        check_duration(reporter, lpath + ("expires",), location.get("expires"))
        buffering = location.get("request_buffering")
        if isinstance(buffering, dict):
            check_size(reporter, lpath + ("request_buffering", "max_request_size"), buffering.get("max_request_size"))
        rules = location.get("rules")
        if isinstance(rules, dict):
            for pattern, rule in rules.items():
                _check_rule_regex(reporter, lpath + ("rules", pattern), str(pattern), at_key=True)
                if isinstance(rule, dict):
                    check_duration(reporter, lpath + ("rules", pattern, "expires"), rule.get("expires"))


def _check_rule_regex(reporter: Reporter, at: DataPath, pattern: str, *, at_key: bool) -> None:
    problem = regex_problem(pattern)
    if problem is not None:
        reporter.error(
            "bad-regex",
            f"'{pattern}' is not a regular expression: {problem}",
            at,
            at_key=at_key,
            hint="a PCRE regex as nginx reads it, such as '\\.(css|js)$'",
        )


def check_duration(reporter: Reporter, at: DataPath, value: Any) -> None:
    if value is None or (isinstance(value, int | str) and not isinstance(value, bool) and _duration_ok(value)):
        return
    if not isinstance(value, int | str) or isinstance(value, bool):
        return  # the schema check reports the type
    reporter.error("bad-duration", f"`expires: {value}` is not a duration", at, at_key=False, hint=DURATION_HINT)


def _duration_ok(value: Any) -> bool:
    try:
        parse_duration(value)
    except ValueError:
        return False
    return True


def check_size(reporter: Reporter, at: DataPath, value: Any) -> None:
    if value is None or not isinstance(value, int | str) or isinstance(value, bool):
        return
    try:
        parse_size(value)
    except ValueError as exc:
        reporter.error("bad-size", f"`max_request_size`: {exc}", at, at_key=False, hint=SIZE_HINT)
