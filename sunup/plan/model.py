"""The plan: a frozen, fully resolved description of what sunup runs.

`sunup.plan.resolve.resolve_project` computes it from a validated configuration with pure code.
The supervisor, `sunup config` and exporters read only the plan, never the YAML. Everything here
is an immutable value. The JSON renderings (`to_json`) are stable: `sunup config --json` is built
from them (docs/config-json.md).

    ProjectPlan
     ├── services: ServicePlan (type, version, endpoints)
     └── apps: AppPlan
          ├── hooks, crons, dependencies, build
          └── groups: GroupPlan (web first, then each worker)
               ├── commands, relationships, mounts, variables, access
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
class ProjectPlan:
    #: ``upsun`` (.upsun/) or ``platform`` (legacy .platform files).
    format: str
    apps: tuple[AppPlan, ...]
    services: tuple[ServicePlan, ...]
    routes: Mapping[str, Any] = field(default_factory=frozen_map)

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
