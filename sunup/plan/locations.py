"""`web.locations` → `LocationPlan`s, and how the app's web server talks to the app (spec §11).

Pure. A location's key is its URL path prefix (kept as written); the plan lists them longest
first, as the longest prefix wins. An app without `locations` may use Platform.sh's older keys,
which the platform reads as one ``/`` location:

- ``document_root`` → ``root``; ``passthru`` → ``passthru``; ``index_files`` → ``index``;
  ``expires`` → ``expires``;
- ``whitelist`` (regexes of the only files served) → ``allow: false`` and a rule
  ``{allow: true}`` per regex; ``blacklist`` (regexes never served) → a rule ``{allow: false}``
  per regex.

An app with neither has no locations: everything goes to the app. Values that do not parse take
the platform's defaults (the configuration checks report them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sunup.config.units import parse_duration, parse_size
from sunup.plan.model import LocationPlan, RulePlan, frozen_map

DEFAULT_MAX_REQUEST_SIZE = 250 * 1024 * 1024
#: The keys of `web:` that are the legacy form of one "/" location.
LEGACY_KEYS = ("document_root", "passthru", "index_files", "whitelist", "blacklist", "expires")


def web_protocol(app_type: str, web: Mapping[str, Any]) -> str:
    """`web.upstream.protocol`; by default http, fastcgi for PHP apps."""
    upstream = web.get("upstream")
    written = upstream.get("protocol") if isinstance(upstream, Mapping) else None
    if isinstance(written, str) and written:
        return written
    return "fastcgi" if app_type.startswith("php:") or app_type == "php" else "http"


def web_locations(web: Mapping[str, Any]) -> tuple[LocationPlan, ...]:
    """The web instance's locations, longest path first (ties: as written)."""
    locations = web.get("locations")
    if isinstance(locations, Mapping) and locations:
        plans = [_location(str(path), spec if isinstance(spec, Mapping) else {}) for path, spec in locations.items()]
    elif any(key in web for key in LEGACY_KEYS):
        plans = [_legacy_location(web)]
    else:
        return ()
    return tuple(sorted(plans, key=lambda p: -len(p.path)))


def normalize_root(root: Any) -> str | None:
    """``"public/"`` → ``public``; ``"/"`` and ``""`` → ``""`` (the app folder); not a string: None."""
    if not isinstance(root, str):
        return None
    return root.strip().strip("/")


def _location(path: str, spec: Mapping[str, Any]) -> LocationPlan:
    buffering = spec.get("request_buffering")
    buffering = buffering if isinstance(buffering, Mapping) else {}
    rules = spec.get("rules")
    return LocationPlan(
        path=path,
        root=normalize_root(spec.get("root")),
        passthru=_passthru(spec.get("passthru"), False),
        index=_index(spec.get("index")),
        expires=_expires(spec.get("expires"), -1),
        allow=spec.get("allow") is not False,
        scripts=spec.get("scripts") is True,
        headers=_headers(spec.get("headers")),
        request_buffering=buffering.get("enabled") is not False,
        max_request_size=_size(buffering.get("max_request_size")),
        rules=tuple(_rule(str(pattern), rule if isinstance(rule, Mapping) else {}) for pattern, rule in rules.items())
        if isinstance(rules, Mapping)
        else (),
    )


def _legacy_location(web: Mapping[str, Any]) -> LocationPlan:
    whitelist = [str(p) for p in web.get("whitelist") or () if isinstance(p, str)]
    blacklist = [str(p) for p in web.get("blacklist") or () if isinstance(p, str)]
    rules = [RulePlan(pattern, allow=True) for pattern in whitelist]
    rules += [RulePlan(pattern, allow=False) for pattern in blacklist]
    return LocationPlan(
        path="/",
        root=normalize_root(web.get("document_root")),
        passthru=_passthru(web.get("passthru"), False),
        index=_index(web.get("index_files")),
        expires=_expires(web.get("expires"), -1),
        allow=not whitelist,
        rules=tuple(rules),
    )


def _rule(pattern: str, spec: Mapping[str, Any]) -> RulePlan:
    allow, scripts = spec.get("allow"), spec.get("scripts")
    passthru = spec.get("passthru")
    expires = spec.get("expires")
    return RulePlan(
        pattern=pattern,
        allow=allow if isinstance(allow, bool) else None,
        passthru=_passthru(passthru, None) if passthru is not None else None,
        scripts=scripts if isinstance(scripts, bool) else None,
        expires=_expires(expires, None) if expires is not None else None,
        headers=_headers(spec.get("headers")),
    )


def _passthru(value: Any, default: Any) -> Any:
    """True, False, or a script path ("/index.php"); a string "true"/"false" is not a script."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        return {"true": True, "false": False}.get(value.lower(), value)
    return default


def _index(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None)
    return ()


def _headers(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        return frozen_map()
    return frozen_map({str(k): str(v) for k, v in value.items() if v is not None})


def _expires(value: Any, default: Any) -> Any:
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError:
        return default


def _size(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_REQUEST_SIZE
    try:
        return parse_size(value)
    except ValueError:
        return DEFAULT_MAX_REQUEST_SIZE
