"""The plan: a frozen, fully resolved description of what sunup runs.

`sunup.plan.resolve.resolve_project` computes it from a validated configuration with pure code.
The supervisor, `sunup config` and exporters read only the plan, never the YAML. Everything here
is an immutable value. The JSON renderings (`to_json`) are stable: `sunup config --json` is built
from them (docs/config-json.md).

    ProjectPlan
     ├── services: ServicePlan (type, version, endpoints)
     ├── route_plans: RoutePlan (URL templates, upstream or redirect; spec §10)
     └── apps: AppPlan
          ├── hooks, crons, dependencies, build
          └── groups: GroupPlan (web first, then each worker)
               ├── commands, relationships, mounts, variables, access
               ├── locations: LocationPlan (web only: `web.locations`, spec §11)
               └── resources (cpu, memory, count) and the static environment
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def frozen_map(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a copy of `data`."""
    return MappingProxyType(dict(data or {}))


class GroupKind(enum.Enum):
    """What an instance group is: the web instance(s) of an app, or one of its workers."""

    WEB = "web"
    WORKER = "worker"


class MountScope(enum.Enum):
    """Who shares the folder behind a mount (spec §4)."""

    #: `storage`: all instances of one group (web, or one worker).
    GROUP = "group"
    #: `storage` with `service:`, or `source: service`: everyone naming the same service (or
    #: the app whose storage they share).
    SERVICE = "service"
    #: `instance`: one instance, persistent.
    INSTANCE = "instance"
    #: `tmp`: one instance, wiped on `sunup down`, capped at 8 GB.
    TMP = "tmp"


@dataclass(frozen=True, slots=True)
class MountPlan:
    #: The mount path relative to the app root, without leading/trailing slashes.
    path: str
    #: The source as the platform names it: storage, instance, tmp or service.
    source: str
    scope: MountScope
    #: The sub-folder of the volume (spec §4 rules applied; "" = the whole volume).
    source_path: str
    #: The service named by `service:` (a network-storage service, or a sharing key).
    service: str | None
    #: Identifies the volume: two mounts with the same key (and instance, for per-instance
    #: scopes) see the same files. E.g. ``app/web/storage``, ``service/files``.
    volume: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "scope": self.scope.value,
            "source_path": self.source_path,
            "service": self.service,
            "volume": self.volume,
        }


@dataclass(frozen=True, slots=True)
class RelationshipPlan:
    name: str
    service: str
    endpoint: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "service": self.service, "endpoint": self.endpoint}


@dataclass(frozen=True, slots=True)
class CommandsPlan:
    start: str
    pre_start: str | None = None
    post_start: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pre_start": self.pre_start, "start": self.start, "post_start": self.post_start}


@dataclass(frozen=True, slots=True)
class ResourcesPlan:
    """CPU, memory and instance count of a group (spec §7)."""

    cpu: float
    memory_mb: int
    count: int
    profile: str

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "memory_mb": self.memory_mb,
            "count": self.count,
            "container_profile": self.profile,
        }


@dataclass(frozen=True, slots=True)
class RulePlan:
    """A `rules` entry of a location: a regex on the request path whose values override the
    location's (None: not set by the rule, the location's applies)."""

    #: The regular expression as written (PCRE, as nginx reads it).
    pattern: str
    allow: bool | None = None
    #: True, False, or a script path ("/index.php").
    passthru: bool | str | None = None
    scripts: bool | None = None
    #: Seconds; -1: no caching headers; None: not set by the rule.
    expires: int | None = None
    headers: Mapping[str, str] = field(default_factory=frozen_map)

    def to_json(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "passthru": self.passthru,
            "scripts": self.scripts,
            "expires": self.expires,
            "headers": dict(self.headers),
        }


@dataclass(frozen=True, slots=True)
class LocationPlan:
    """One `web.locations` entry (the legacy keys map onto one ``/`` location): spec §11."""

    #: The URL path prefix, as written ("/", "/static"); the longest prefix wins.
    path: str
    #: The folder static files come from, relative to the app root, without slashes around
    #: ("" = the app root itself); None: no static files (everything goes to the app).
    root: str | None
    #: True: send to the app; False: static only (404 when no file); a path ("/index.php"): that
    #: script when no file matches.
    passthru: bool | str = False
    index: tuple[str, ...] = ()
    #: Seconds static files may be cached (`Cache-Control: max-age`, `Expires`); -1: no headers.
    expires: int = -1
    #: Serve static files that no rule matched.
    allow: bool = True
    #: PHP: run `.php` files found under `root`.
    scripts: bool = False
    #: Added to static responses.
    headers: Mapping[str, str] = field(default_factory=frozen_map)
    request_buffering: bool = True
    #: Bodies past this are refused with 413 (`request_buffering.max_request_size`, 250m).
    max_request_size: int = 250 * 1024 * 1024
    rules: tuple[RulePlan, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "passthru": self.passthru,
            "index": list(self.index),
            "expires": self.expires,
            "allow": self.allow,
            "scripts": self.scripts,
            "headers": dict(self.headers),
            "request_buffering": {"enabled": self.request_buffering, "max_request_size": self.max_request_size},
            "rules": {r.pattern: r.to_json() for r in self.rules},
        }


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """One instance group: the web instances of an app, or the instances of one worker."""

    app: str
    #: ``web`` or the worker's name.
    name: str
    kind: GroupKind
    #: The name the platform gives it: ``app`` for web, ``app--queue`` for a worker.
    instance_name: str
    #: None when a web instance has no start command (a static site served by the router).
    commands: CommandsPlan | None
    relationships: tuple[RelationshipPlan, ...]
    mounts: tuple[MountPlan, ...]
    #: The `variables` block after inheritance, as written: {prefix: {name: value}}.
    variables: Mapping[str, Mapping[str, Any]]
    #: Environment variables known before run time (spec §6): TYPE and other `env:` variables,
    #: PLATFORM_APPLICATION_NAME, PLATFORM_VARIABLES, ... Run-time values (PORT, credentials,
    #: PLATFORM_RELATIONSHIPS, paths on the host) are added by the runner.
    environment: Mapping[str, str]
    access: Mapping[str, str]
    container_profile: str
    resources: ResourcesPlan
    timezone: str
    firewall: Mapping[str, Any] = field(default_factory=frozen_map)
    additional_hosts: Mapping[str, str] = field(default_factory=frozen_map)
    #: web only: tcp or unix.
    socket_family: str | None = None
    #: web only: how the app's web server talks to the app: http, or fastcgi (PHP).
    protocol: str | None = None
    #: web only: `web.locations` (legacy keys mapped), longest path first.
    locations: tuple[LocationPlan, ...] = ()

    @property
    def is_web(self) -> bool:
        return self.kind is GroupKind.WEB

    def instance_names(self) -> list[str]:
        """``web.0``, ``queue.0``, ``queue.1``..."""
        return [f"{self.name}.{i}" for i in range(self.resources.count)]

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "group": self.name,
            "kind": self.kind.value,
            "instance_name": self.instance_name,
            "commands": self.commands.to_json() if self.commands else None,
            "relationships": {r.name: r.to_json() for r in self.relationships},
            "mounts": {m.path: m.to_json() for m in self.mounts},
            "variables": {k: dict(v) for k, v in self.variables.items()},
            "environment": dict(self.environment),
            "access": dict(self.access),
            "container_profile": self.container_profile,
            "resources": self.resources.to_json(),
            "timezone": self.timezone,
            "firewall": dict(self.firewall),
            "additional_hosts": dict(self.additional_hosts),
            "socket_family": self.socket_family,
            "protocol": self.protocol,
            "locations": {loc.path: loc.to_json() for loc in self.locations},
        }


@dataclass(frozen=True, slots=True)
class CronPlan:
    name: str
    #: The 5-field expression as written (may use H).
    spec: str
    start: str
    stop: str | None
    shutdown_timeout: int
    timeout: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "start": self.start,
            "stop": self.stop,
            "shutdown_timeout": self.shutdown_timeout,
            "timeout": self.timeout,
        }


@dataclass(frozen=True, slots=True)
class HooksPlan:
    build: str | None = None
    deploy: str | None = None
    post_deploy: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"build": self.build, "deploy": self.deploy, "post_deploy": self.post_deploy}


@dataclass(frozen=True, slots=True)
class AppPlan:
    name: str
    #: ``python:3.12``, ``composable:25.05``, ...
    type: str
    #: The language part of `type` (``python``), or ``composable``.
    runtime: str
    #: The version part of `type` (``3.12``).
    version: str
    #: The app's source folder relative to the project root ("" for the root itself).
    source_root: str
    hooks: HooksPlan
    crons: tuple[CronPlan, ...]
    dependencies: Mapping[str, Mapping[str, str]]
    build_flavor: str | None
    timezone: str
    #: The web group first, then every worker in the order the configuration lists them.
    groups: tuple[GroupPlan, ...]
    #: The whole app configuration as written (after inheritance is *not* applied): what
    #: PLATFORM_APPLICATION carries.
    config: Mapping[str, Any] = field(default_factory=frozen_map)
    stack: tuple[str, ...] = ()

    @property
    def web(self) -> GroupPlan:
        return self.groups[0]

    @property
    def workers(self) -> tuple[GroupPlan, ...]:
        return self.groups[1:]

    def group(self, name: str) -> GroupPlan | None:
        return next((g for g in self.groups if g.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "runtime": self.runtime,
            "version": self.version,
            "source_root": self.source_root,
            "hooks": self.hooks.to_json(),
            "crons": {c.name: c.to_json() for c in self.crons},
            "dependencies": {k: dict(v) for k, v in self.dependencies.items()},
            "build_flavor": self.build_flavor,
            "timezone": self.timezone,
            "stack": list(self.stack),
            "groups": {g.name: g.to_json() for g in self.groups},
        }


@dataclass(frozen=True, slots=True)
class EndpointPlan:
    """One way into a service: its own user with its own privileges (spec §5)."""

    name: str
    #: Default schema / database / vhost, None when the service has none.
    path: str | None
    #: {schema or database: ro | rw | admin}; empty for services without privileges.
    privileges: Mapping[str, str] = field(default_factory=frozen_map)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "privileges": dict(self.privileges)}


@dataclass(frozen=True, slots=True)
class ServicePlan:
    name: str
    #: ``mariadb:11.4`` as written.
    type: str
    #: ``mariadb``; ``mysql`` and ``oracle-mysql`` keep their name, engines map them.
    kind: str
    version: str
    #: The URL scheme clients use: mysql, pgsql, redis, amqp, ... ("" for storage).
    scheme: str
    endpoints: tuple[EndpointPlan, ...]
    #: The `configuration` block as written.
    configuration: Mapping[str, Any] = field(default_factory=frozen_map)
    #: Databases / schemas / vhosts the service holds.
    schemas: tuple[str, ...] = ()

    def endpoint(self, name: str) -> EndpointPlan | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "version": self.version,
            "scheme": self.scheme,
            "schemas": list(self.schemas),
            "endpoints": {e.name: e.to_json() for e in self.endpoints},
            "configuration": dict(self.configuration),
        }


@dataclass(frozen=True, slots=True)
class CachePlan:
    """A route's `cache` block, with the platform's defaults."""

    enabled: bool = True
    default_ttl: int = 0
    cookies: tuple[str, ...] = ("*",)
    headers: tuple[str, ...] = ("Accept", "Accept-Language")

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "default_ttl": self.default_ttl,
            "cookies": list(self.cookies),
            "headers": list(self.headers),
        }


@dataclass(frozen=True, slots=True)
class RedirectPathPlan:
    """One `redirects.paths` entry of a route (partial redirects)."""

    #: The path as written, or a regex when `regexp`.
    path: str
    #: Target: a path, a URL, or a URL template ({default}); with `regexp`, may use \1...
    to: str
    regexp: bool = False
    prefix: bool = True
    append_suffix: bool = True
    code: int = 301
    #: Seconds the redirect may be cached; None: the route's `redirects.expires`, else none.
    expires: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "regexp": self.regexp,
            "prefix": self.prefix,
            "append_suffix": self.append_suffix,
            "code": self.code,
            "expires": self.expires,
        }


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """One route, its URL still a template (`original_url`): spec §10. Resolving the template to
    local URLs (domain, ports) is `sunup.plan.routes.local_routes`, with the host facts."""

    #: The key as written: ``https://{default}/``, ``http://www.{default}/api/``.
    original_url: str
    #: ``https`` or ``http``.
    scheme: str
    #: The host part as written: ``{default}``, ``api.{default}``, ``{all}``, ``example.com``.
    host: str
    #: The path part, starting and ending with "/" (``/`` or ``/api/``).
    path: str
    #: ``upstream`` or ``redirect``.
    type: str
    #: The app it sends to (``app``, without ``:http``); upstream routes only.
    upstream: str | None = None
    #: The redirect's target as written (a URL or a template); redirect routes only.
    to: str | None = None
    #: The redirect's status (301, 302, 307, 308).
    code: int = 301
    id: str | None = None
    #: Exactly one route of a project is primary (the `primary: true` one, else the first
    #: upstream route on ``{default}``).
    primary: bool = False
    attributes: Mapping[str, str] = field(default_factory=frozen_map)
    cache: CachePlan = field(default_factory=CachePlan)
    ssi: bool = False
    #: `redirects.expires` in seconds (None: not set).
    redirects_expires: int | None = None
    redirects: tuple[RedirectPathPlan, ...] = ()
    #: `tls` as written (with `strict_transport_security` as the platform shows it).
    tls: Mapping[str, Any] = field(default_factory=frozen_map)
    #: Made by the platform, not written: the http twin of an https-only route, or the default
    #: route of a project without routes.
    generated: bool = False

    @property
    def hsts(self) -> Mapping[str, Any]:
        """`tls.strict_transport_security` ({} when not set)."""
        found = self.tls.get("strict_transport_security")
        return found if isinstance(found, Mapping) else {}

    def to_json(self) -> dict[str, Any]:
        return {
            "original_url": self.original_url,
            "type": self.type,
            "upstream": self.upstream,
            "to": self.to,
            "code": self.code,
            "id": self.id,
            "primary": self.primary,
            "attributes": dict(self.attributes),
            "cache": self.cache.to_json(),
            "ssi": {"enabled": self.ssi},
            "redirects": {
                "expires": self.redirects_expires,
                "paths": {r.path: r.to_json() for r in self.redirects},
            },
            "tls": dict(self.tls),
            "generated": self.generated,
        }


@dataclass(frozen=True, slots=True)
class ProjectPlan:
    #: ``upsun`` (.upsun/) or ``platform`` (legacy .platform files).
    format: str
    apps: tuple[AppPlan, ...]
    services: tuple[ServicePlan, ...]
    #: `routes` as written (what `sunup config --json` shows).
    routes: Mapping[str, Any] = field(default_factory=frozen_map)
    #: The routes resolved (defaults applied, the http twins of https-only routes and the
    #: platform's default route added): what the router serves.
    route_plans: tuple[RoutePlan, ...] = ()

    def app(self, name: str) -> AppPlan | None:
        return next((a for a in self.apps if a.name == name), None)

    def service(self, name: str) -> ServicePlan | None:
        return next((s for s in self.services if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "apps": {a.name: a.to_json() for a in self.apps},
            "services": {s.name: s.to_json() for s in self.services},
            "routes": dict(self.routes),
        }
