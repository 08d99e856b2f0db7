"""From a checked configuration to the plan: inheritance, normalisation, resources (spec §2 to §7).

Pure: the only inputs are the loaded configuration and the `HostFacts` passed in (project id,
environment name, local resource settings...). Call it only on a configuration without errors;
anything it meets that the checks let through takes the platform's default.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sunup.config.catalog import SCHEMES, SQL_TYPES, default_endpoint, relationship_target
from sunup.config.loader import LoadedConfig
from sunup.config.mounts import canonical_source, normalize_mount_path
from sunup.php import PHP_START, is_php
from sunup.plan import environment, locations, resources
from sunup.plan.model import (
    AppPlan,
    CommandsPlan,
    CronPlan,
    EndpointPlan,
    GroupKind,
    GroupPlan,
    HooksPlan,
    MountPlan,
    MountScope,
    ProjectPlan,
    RelationshipPlan,
    ResourcesPlan,
    ServicePlan,
    frozen_map,
)
from sunup.plan.routes import resolve_routes

#: The keys a worker inherits from the app's top level unless it sets them (spec §2).
INHERITED_KEYS = (
    "relationships",
    "access",
    "mounts",
    "variables",
    "firewall",
    "timezone",
    "container_profile",
    "additional_hosts",
)
#: The keys `web:` may set for the web instance only.
WEB_OVERRIDES = ("relationships", "mounts", "variables", "access")
DEFAULT_ACCESS = {"ssh": "contributor"}
DEFAULT_CRON_SHUTDOWN_TIMEOUT = 10
DEFAULT_CRON_TIMEOUT = 86400


@dataclass(frozen=True)
class HostFacts:
    """What the plan needs to know about this machine and environment."""

    project: str
    project_entropy: str
    environment: str = "main"
    branch: str = "main"
    environment_type: str = "development"
    #: The tree id of the build the instances run (set once built).
    tree_id: str = "0" * 40
    #: Local resource settings by ``app:group`` (group = web or the worker's name).
    resources: Mapping[str, resources.ResourceSetting] = field(default_factory=dict)
    #: Local variable overrides: {prefix: {name: value}}; they win over the app's.
    variables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def for_project(cls, root: Path) -> HostFacts:
        """Stable ids derived from the project's folder: the same every run, unique per project."""
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()
        return cls(project=digest[:13], project_entropy=digest[13:45])


def resolve_project(loaded: LoadedConfig, facts: HostFacts) -> ProjectPlan:
    data = loaded.data
    services_data = data.get("services") or {}
    apps_data = data.get("applications") or {}
    services = tuple(_service(name, spec) for name, spec in services_data.items() if isinstance(spec, dict))
    kinds = {s.name: s.kind for s in services}
    apps = tuple(
        _app(
            name,
            spec=spec,
            app_dir=loaded.app_dirs.get(name),
            service_kinds=kinds,
            app_names=set(apps_data),
            facts=facts,
        )
        for name, spec in apps_data.items()
        if isinstance(spec, dict)
    )
    return ProjectPlan(
        format=loaded.format,
        apps=apps,
        services=services,
        routes=frozen_map(data.get("routes") or {}),
        route_plans=resolve_routes(data.get("routes") or {}, [app.name for app in apps]),
    )


# -- services -------------------------------------------------------------------------------


def _service(name: str, spec: Mapping[str, Any]) -> ServicePlan:
    kind, _, version = str(spec.get("type", "")).partition(":")
    configuration = spec.get("configuration") or {}
    schemas: tuple[str, ...] = ()
    endpoints: tuple[EndpointPlan, ...]
    if kind in SQL_TYPES:
        key = "databases" if kind == "postgresql" else "schemas"
        schemas = tuple(configuration.get(key) or ("main",))
        configured = configuration.get("endpoints")
        if configured:
            endpoints = tuple(_sql_endpoint(ep, value or {}) for ep, value in configured.items())
        else:
            endpoint = default_endpoint(kind) or kind
            endpoints = (EndpointPlan(endpoint, schemas[0], frozen_map({schemas[0]: "admin"})),)
    elif kind == "rabbitmq":
        schemas = tuple(configuration.get("vhosts") or ())
        endpoints = (EndpointPlan("rabbitmq", schemas[0] if schemas else None),)
    else:
        endpoint = default_endpoint(kind) or kind
        endpoints = (EndpointPlan(endpoint, None),)
    return ServicePlan(
        name=name,
        type=str(spec.get("type", "")),
        kind=kind,
        version=version,
        scheme=SCHEMES.get(kind, ""),
        endpoints=endpoints,
        configuration=frozen_map(configuration),
        schemas=schemas,
    )


def _sql_endpoint(name: str, spec: Mapping[str, Any]) -> EndpointPlan:
    """A configured SQL endpoint; without `default_schema` its path is null, as on the platform."""
    privileges = spec.get("privileges") or {}
    default = spec.get("default_schema") or spec.get("default_database")
    return EndpointPlan(name, default, frozen_map(privileges))


# -- applications ---------------------------------------------------------------------------


def _app(
    name: str,
    *,
    spec: Mapping[str, Any],
    app_dir: str | None,
    service_kinds: Mapping[str, str],
    app_names: set[str],
    facts: HostFacts,
) -> AppPlan:
    app_type, stack = _type_and_stack(spec)
    runtime, _, version = app_type.partition(":")
    source = spec.get("source") or {}
    root = source.get("root")
    source_root = normalize_mount_path(root) if isinstance(root, str) else (app_dir or "")
    hooks = spec.get("hooks") or {}
    web = spec.get("web") or {}
    workers = spec.get("workers") or {}
    timezone = spec.get("timezone") or "UTC"
    encoded_app = environment.encode(dict(spec))

    groups = [
        _group(
            name,
            "web",
            GroupKind.WEB,
            view=_web_view(spec, web),
            service_kinds=service_kinds,
            app_names=app_names,
            facts=facts,
            encoded_app=encoded_app,
        )
    ]
    for worker, worker_spec in workers.items():
        view = _worker_view(spec, worker_spec or {})
        groups.append(
            _group(
                name,
                worker,
                GroupKind.WORKER,
                view=view,
                service_kinds=service_kinds,
                app_names=app_names,
                facts=facts,
                encoded_app=encoded_app,
            )
        )
    crons = tuple(_cron(cron, value) for cron, value in (spec.get("crons") or {}).items() if isinstance(value, dict))
    build = spec.get("build") or {}
    return AppPlan(
        name=name,
        type=app_type,
        runtime=runtime,
        version=version,
        source_root=source_root,
        hooks=HooksPlan(hooks.get("build"), hooks.get("deploy"), hooks.get("post_deploy")),
        crons=crons,
        dependencies=frozen_map(
            {
                k: frozen_map({p: str(v) for p, v in (pkgs or {}).items()})
                for k, pkgs in (spec.get("dependencies") or {}).items()
            }
        ),
        build_flavor=build.get("flavor"),
        timezone=timezone,
        groups=tuple(groups),
        config=frozen_map(spec),
        stack=stack,
    )


def _type_and_stack(spec: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    raw_stack = spec.get("stack") or ()
    if isinstance(raw_stack, Mapping):
        raw_stack = [*(raw_stack.get("runtimes") or ()), *(raw_stack.get("packages") or ())]
    stack = tuple(item if isinstance(item, str) else next(iter(item), "") for item in raw_stack)
    app_type = spec.get("type")
    if isinstance(app_type, str) and app_type:
        return app_type, stack
    return "composable:stable", stack


def _web_view(app: Mapping[str, Any], web: Mapping[str, Any]) -> dict[str, Any]:
    """The web group's effective keys: the app's, with `web:` overrides replacing them whole."""
    view = {key: app.get(key) for key in INHERITED_KEYS}
    for key in WEB_OVERRIDES:
        if key in web:
            view[key] = web[key]
    view["commands"] = web.get("commands")
    app_type, _ = _type_and_stack(app)
    # PHP: FPM on a unix socket unless the app says otherwise (spec §12).
    view["socket_family"] = (web.get("upstream") or {}).get("socket_family") or ("unix" if is_php(app_type) else "tcp")
    view["default_start"] = PHP_START if is_php(app_type) else None
    view["protocol"] = locations.web_protocol(app_type, web)
    view["locations"] = locations.web_locations(web)
    return view


def _worker_view(app: Mapping[str, Any], worker: Mapping[str, Any]) -> dict[str, Any]:
    """A worker's effective keys: its own where set (replacing whole), else the app's top level."""
    view = {key: worker[key] if key in worker else app.get(key) for key in INHERITED_KEYS}
    view["commands"] = worker.get("commands")
    return view


def _group(
    app: str,
    name: str,
    kind: GroupKind,
    *,
    view: Mapping[str, Any],
    service_kinds: Mapping[str, str],
    app_names: set[str],
    facts: HostFacts,
    encoded_app: str,
) -> GroupPlan:
    instance_name = app if kind is GroupKind.WEB else f"{app}--{name}"
    commands_spec = view.get("commands") or {}
    start = commands_spec.get("start") if isinstance(commands_spec, Mapping) else None
    if not start and kind is GroupKind.WEB:
        start = view.get("default_start")
        commands_spec = commands_spec if isinstance(commands_spec, Mapping) else {}
    commands = (
        CommandsPlan(start=start, pre_start=commands_spec.get("pre_start"), post_start=commands_spec.get("post_start"))
        if start
        else None
    )
    variables = _merge_variables(view.get("variables") or {}, facts.variables)
    profile = view.get("container_profile") or resources.DEFAULT_RUNTIME_PROFILE
    env = environment.variables_environment(variables)
    env.update(
        {
            "PLATFORM_APPLICATION_NAME": instance_name,
            "PLATFORM_APPLICATION": encoded_app,
            "PLATFORM_PROJECT": facts.project,
            "PLATFORM_PROJECT_ENTROPY": facts.project_entropy,
            "PLATFORM_ENVIRONMENT": facts.environment,
            "PLATFORM_ENVIRONMENT_TYPE": facts.environment_type,
            "PLATFORM_BRANCH": facts.branch,
            "PLATFORM_TREE_ID": facts.tree_id,
            "PLATFORM_VARIABLES": environment.encode(environment.platform_variables(variables)),
            "PLATFORM_SMTP_HOST": "",
        }
    )
    if kind is GroupKind.WEB and commands is not None:
        env["PLATFORM_APP_COMMAND"] = commands.start
    return GroupPlan(
        app=app,
        name=name,
        kind=kind,
        instance_name=instance_name,
        commands=commands,
        relationships=tuple(
            _relationship(rel, target, service_kinds, app_names)
            for rel, target in (view.get("relationships") or {}).items()
        ),
        mounts=tuple(_mount(app, name, path, spec, app_names) for path, spec in (view.get("mounts") or {}).items()),
        variables=frozen_map({k: frozen_map(v or {}) for k, v in variables.items()}),
        environment=frozen_map(env),
        access=frozen_map(view.get("access") or DEFAULT_ACCESS),
        container_profile=profile,
        resources=group_resources(app, name, kind, profile, facts.resources),
        timezone=view.get("timezone") or "UTC",
        firewall=frozen_map(view.get("firewall") or {}),
        additional_hosts=frozen_map(view.get("additional_hosts") or {}),
        socket_family=view.get("socket_family") if kind is GroupKind.WEB else None,
        protocol=view.get("protocol") if kind is GroupKind.WEB else None,
        locations=view.get("locations") or () if kind is GroupKind.WEB else (),
    )


def _merge_variables(config: Mapping[str, Any], local: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The app's variables with local overrides on top (spec §6 precedence)."""
    merged = {prefix: dict(block or {}) for prefix, block in config.items()}
    for prefix, block in local.items():
        merged.setdefault(prefix, {}).update(block)
    return merged


def _relationship(name: str, target: Any, service_kinds: Mapping[str, str], app_names: set[str]) -> RelationshipPlan:
    service, endpoint = relationship_target(name, target) or (name, None)
    if endpoint is None:
        kind = service_kinds.get(service)
        endpoint = (default_endpoint(kind) if kind else None) or ("http" if service in app_names else service)
    return RelationshipPlan(name=name, service=service, endpoint=endpoint)


def _mount(app: str, group: str, raw_path: str, spec: Any, app_names: set[str]) -> MountPlan:
    path = normalize_mount_path(raw_path)
    service: str | None = None
    if isinstance(spec, str):  # legacy 'shared:files/path'
        source_name, _, rest = spec.partition(":")
        source = canonical_source(source_name)
        source_path = normalize_mount_path(rest.removeprefix("files"))
    else:
        source = canonical_source(str(spec.get("source")))
        written = spec.get("source_path")
        source_path = path if written is None else normalize_mount_path(written)
        service = spec.get("service")
    if source == "storage" and service in app_names:
        # Sharing another app's storage (Upsun docs, mounts: "Share a mount between several
        # apps"): the volume of that app's own plain `storage` mounts, those of its web group.
        scope, volume = MountScope.SERVICE, f"app/{service}/web/storage"
    elif source == "service" or (source == "storage" and service):
        scope, volume = MountScope.SERVICE, f"service/{service}"
    elif source == "instance":
        scope, volume = MountScope.INSTANCE, f"app/{app}/{group}/instance"
    elif source == "tmp":
        scope, volume = MountScope.TMP, f"app/{app}/{group}/tmp"
    else:
        scope, volume = MountScope.GROUP, f"app/{app}/{group}/storage"
    return MountPlan(path=path, source=source, scope=scope, source_path=source_path, service=service, volume=volume)


def _cron(name: str, spec: Mapping[str, Any]) -> CronPlan:
    commands = spec.get("commands")
    stop = None
    if isinstance(commands, Mapping):
        start, stop = commands.get("start"), commands.get("stop")
    elif isinstance(commands, str):
        start = commands
    else:
        start = spec.get("cmd")
    return CronPlan(
        name=name,
        spec=str(spec.get("spec", "")),
        start=str(start or ""),
        stop=stop,
        shutdown_timeout=int(spec.get("shutdown_timeout") or DEFAULT_CRON_SHUTDOWN_TIMEOUT),
        timeout=int(spec.get("timeout") or DEFAULT_CRON_TIMEOUT),
    )


def group_resources(
    app: str, name: str, kind: GroupKind, profile: str, settings: Mapping[str, resources.ResourceSetting]
) -> ResourcesPlan:
    """A group's CPU, memory and count from this machine's settings (`sunup resources:set`):
    a worker without a CPU of its own takes its app's web CPU, memory follows the profile."""
    setting = settings.get(f"{app}:{name}") or resources.ResourceSetting()
    inherited = settings.get(f"{app}:web") if kind is GroupKind.WORKER else None
    cpu = setting.cpu or (inherited.cpu if inherited else None) or resources.DEFAULT_CPU
    memory = setting.memory_mb or resources.memory_for(profile, cpu)
    return ResourcesPlan(cpu=cpu, memory_mb=memory, count=setting.count or 1, profile=profile)


def with_resources(plan: ProjectPlan, settings: Mapping[str, resources.ResourceSetting]) -> ProjectPlan:
    """`plan` with every group's resources taken again from `settings`, nothing else changed:
    what `sunup redeploy` applies after `sunup resources:set` (no build, same configuration)."""
    apps = tuple(
        dataclasses.replace(
            app,
            groups=tuple(
                dataclasses.replace(
                    group,
                    resources=group_resources(app.name, group.name, group.kind, group.resources.profile, settings),
                )
                for group in app.groups
            ),
        )
        for app in plan.apps
    )
    return dataclasses.replace(plan, apps=apps)
