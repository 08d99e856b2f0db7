"""Checks of meaning, after the shape is right: names that must exist, values that must parse.

Each check guards its own types, so a document with schema errors still gets every meaning
error that can be found; nothing here raises for a user mistake.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from sunup.config import crons, routing
from sunup.config.catalog import default_endpoint, endpoints_of, relationship_target
from sunup.config.diagnostics import Diagnostics, did_you_mean
from sunup.config.mounts import canonical_source, normalize_mount_path
from sunup.config.schema import PRIVILEGES, RUNTIMES, SERVICE_TYPES
from sunup.config.versions import VERSIONS, Status, version_status
from sunup.config.yamlfile import DataPath, Positions, render_path

#: Keys of a MariaDB / PostgreSQL endpoint (`default_database` is PostgreSQL's spelling).
_ENDPOINT_KEYS = ("default_schema", "default_database", "privileges", "replication")


class _Checker:
    def __init__(self, data: dict[str, Any], positions: Positions, diagnostics: Diagnostics) -> None:
        self.data = data
        self.positions = positions
        self.diagnostics = diagnostics
        apps = data.get("applications")
        services = data.get("services")
        self.apps: dict[str, Any] = apps if isinstance(apps, dict) else {}
        self.services: dict[str, Any] = services if isinstance(services, dict) else {}

    def error(self, code: str, message: str, path: DataPath, *, at_key: bool = True, hint: str | None = None) -> None:
        mark = self.positions.key(path) if at_key else self.positions.value(path)
        self.diagnostics.error(code, message, mark, path=render_path(path), hint=hint)

    def warning(
        self, code: str, message: str, path: DataPath, *, at_key: bool = False, hint: str | None = None
    ) -> None:
        mark = self.positions.key(path) if at_key else self.positions.value(path)
        self.diagnostics.warning(code, message, mark, path=render_path(path), hint=hint)

    # -- the whole project ----------------------------------------------------------------

    def run(self) -> None:
        for name, service in self.services.items():
            if isinstance(service, dict):
                self.check_service(name, service)
        for name, app in self.apps.items():
            if isinstance(app, dict):
                self.check_app(name, app)
        routing.check_routes(self, self.data)

    # -- services -------------------------------------------------------------------------

    def service_kind(self, name: str) -> str | None:
        service = self.services.get(name)
        if not isinstance(service, dict) or not isinstance(service.get("type"), str):
            return None
        return str(service["type"]).split(":", 1)[0]

    def check_service(self, name: str, service: dict[str, Any]) -> None:
        path: DataPath = ("services", name)
        kind_version = service.get("type")
        if not isinstance(kind_version, str):
            return
        kind, _, version = kind_version.partition(":")
        if kind not in SERVICE_TYPES:
            self.error(
                "unknown-service-type",
                f"'{kind}' is not a service type",
                path + ("type",),
                at_key=False,
                hint=did_you_mean(kind, SERVICE_TYPES) or "see https://docs.upsun.com/add-services.html",
            )
            return
        if not version:
            self.error(
                "missing-version",
                f"service type '{kind}' has no version: Upsun requires '{kind}:<version>'",
                path + ("type",),
                at_key=False,
                hint=self.versions_hint(kind, f"write '{kind}:<version>'"),
            )
        else:
            self.check_version(kind, version, path + ("type",))
        configuration = service.get("configuration")
        if isinstance(configuration, dict):
            self.check_service_configuration(kind, path + ("configuration",), configuration)

    def versions_hint(self, kind: str, lead: str) -> str:
        versions = VERSIONS.get(kind)
        return f"{lead}; {kind} versions on Upsun: {versions.offered()}" if versions else lead

    def check_version(self, kind: str, version: str, path: DataPath) -> None:
        """`kind:version` against the platform's versions (`sunup.config.versions`)."""
        known = version_status(kind, version)
        if known is None:  # a type sunup has no version table for
            return
        status, versions = known
        if status is Status.UNKNOWN:
            self.error(
                "unknown-version",
                f"Upsun offers no version '{version}' of {kind}",
                path,
                at_key=False,
                hint=f"{kind} versions on Upsun: {versions.offered()}",
            )
        elif status is Status.DEPRECATED:
            self.warning(
                "deprecated-version",
                f"{kind} {version} is deprecated on Upsun: still offered, without security updates from upstream",
                path,
                hint=f"consider a supported version ({versions.offered()})",
            )
        elif status is Status.RETIRED:
            self.warning(
                "retired-version",
                f"{kind} {version} is retired: Upsun offered it once and no longer does",
                path,
                hint=f"move to a version Upsun offers ({versions.offered()})",
            )

    def check_service_configuration(self, kind: str, path: DataPath, configuration: dict[str, Any]) -> None:
        if kind in ("mariadb", "mysql", "oracle-mysql", "postgresql"):
            schema_key = "databases" if kind == "postgresql" else "schemas"
            schemas = configuration.get(schema_key)
            known: list[str] = ["main"]
            if schemas is not None:
                if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
                    self.error(
                        "wrong-type",
                        f"{render_path(path + (schema_key,))} must be a list of names",
                        path + (schema_key,),
                        at_key=False,
                    )
                    return
                known = list(schemas)
            endpoints = configuration.get("endpoints")
            if endpoints is None:
                return
            if not isinstance(endpoints, dict):
                self.error(
                    "wrong-type",
                    f"{render_path(path + ('endpoints',))} must be a mapping",
                    path + ("endpoints",),
                    at_key=False,
                )
                return
            for endpoint, spec in endpoints.items():
                self.check_db_endpoint(path + ("endpoints", endpoint), spec, known, schema_key)

    def check_db_endpoint(self, path: DataPath, spec: Any, schemas: list[str], schema_key: str) -> None:
        if not isinstance(spec, dict):
            self.error(
                "wrong-type",
                f"{render_path(path)} must be a mapping of default_schema and privileges",
                path,
                at_key=False,
            )
            return
        for key in spec:
            if key not in _ENDPOINT_KEYS:
                self.error(
                    "unknown-key",
                    f"'{key}' is not a key of {render_path(path)}",
                    path + (key,),
                    hint=did_you_mean(key, _ENDPOINT_KEYS),
                )
        default_key = "default_database" if "default_database" in spec else "default_schema"
        default = spec.get(default_key)
        if default is not None and default not in schemas:
            self.error(
                "unknown-schema",
                f"default_schema '{default}' is not one of the service's {schema_key} ({', '.join(schemas)})",
                path + (default_key,),
                at_key=False,
                hint=did_you_mean(str(default), schemas),
            )
        privileges = spec.get("privileges")
        if privileges is None:
            return
        if not isinstance(privileges, dict):
            self.error(
                "wrong-type",
                f"{render_path(path + ('privileges',))} must be a mapping",
                path + ("privileges",),
                at_key=False,
            )
            return
        for schema, privilege in privileges.items():
            if schema not in schemas:
                self.error(
                    "unknown-schema",
                    f"'{schema}' is not one of the service's {schema_key} ({', '.join(schemas)})",
                    path + ("privileges", schema),
                    hint=did_you_mean(schema, schemas),
                )
            if privilege not in PRIVILEGES:
                self.error(
                    "bad-value",
                    f"privilege on '{schema}' must be ro, rw or admin, not '{privilege}'",
                    path + ("privileges", schema),
                    at_key=False,
                    hint=did_you_mean(str(privilege), ("ro", "rw", "admin")),
                )

    # -- applications ---------------------------------------------------------------------

    def check_app(self, name: str, app: dict[str, Any]) -> None:
        path: DataPath = ("applications", name)
        app_type = app.get("type")
        if app_type is None and not app.get("stack"):
            self.error(
                "missing-key",
                f"application '{name}' needs a `type` (such as 'python:3.14') or a `stack`",
                path,
            )
        elif isinstance(app_type, str):
            runtime, _, version = app_type.partition(":")
            if runtime not in RUNTIMES:
                self.error(
                    "unknown-runtime",
                    f"'{runtime}' is not a runtime",
                    path + ("type",),
                    at_key=False,
                    hint=did_you_mean(runtime, RUNTIMES) or f"runtimes: {', '.join(RUNTIMES)}",
                )
            elif not version:
                self.error(
                    "missing-version",
                    f"type '{runtime}' has no version: Upsun requires '{runtime}:<version>'",
                    path + ("type",),
                    at_key=False,
                    hint=self.versions_hint(runtime, f"write '{runtime}:<version>'"),
                )
            else:
                self.check_version(runtime, version, path + ("type",))
        self.check_group_keys(path, app, web=True)
        web = app.get("web")
        if isinstance(web, dict):
            self.check_group_keys(path + ("web",), web, web=True)
            routing.check_web(self, path + ("web",), web)
        workers = app.get("workers")
        if isinstance(workers, dict):
            for worker, spec in workers.items():
                wpath = path + ("workers", worker)
                if not isinstance(spec, dict):
                    self.error("missing-key", f"worker '{worker}' needs `commands.start`", wpath)
                    continue
                commands = spec.get("commands")
                if not isinstance(commands, dict) or not commands.get("start"):
                    where = wpath + ("commands",) if isinstance(commands, dict) else wpath
                    self.error("missing-key", f"worker '{worker}' needs `commands.start`: the command it runs", where)
                self.check_group_keys(wpath, spec, web=False)
        crons_ = app.get("crons")
        if isinstance(crons_, dict):
            for cron, spec in crons_.items():
                if isinstance(spec, dict):
                    self.check_cron(path + ("crons", cron), cron, spec)
        timezone = app.get("timezone")
        self.check_timezone(path + ("timezone",), timezone)

    def check_group_keys(self, path: DataPath, spec: dict[str, Any], *, web: bool) -> None:
        relationships = spec.get("relationships")
        if isinstance(relationships, dict):
            for rel, target in relationships.items():
                self.check_relationship(path + ("relationships", rel), rel, target)
        mounts = spec.get("mounts")
        if isinstance(mounts, dict):
            self.check_mounts(path + ("mounts",), mounts)
        if not web:
            self.check_timezone(path + ("timezone",), spec.get("timezone"))

    def check_timezone(self, path: DataPath, timezone: Any) -> None:
        if not isinstance(timezone, str):
            return
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.error(
                "bad-timezone",
                f"'{timezone}' is not a time zone of the TZ database",
                path,
                at_key=False,
                hint="such as 'Europe/Paris' or 'UTC'",
            )

    def check_relationship(self, path: DataPath, name: str, target: Any) -> None:
        parsed = relationship_target(name, target)
        if parsed is None:
            return
        service, endpoint = parsed
        if not isinstance(service, str):
            return
        # In the mapping form, point at the `service:` or `endpoint:` value that is wrong.
        service_at = path + ("service",) if isinstance(target, dict) and "service" in target else path
        endpoint_at = path + ("endpoint",) if isinstance(target, dict) and "endpoint" in target else path
        if service in self.services:
            kind = self.service_kind(service)
            valid = endpoints_of(kind, self.services[service].get("configuration")) if kind else None
            if endpoint is not None and valid is not None and endpoint not in valid:
                self.error(
                    "unknown-endpoint",
                    f"service '{service}' has no endpoint '{endpoint}' (it has {', '.join(valid)})",
                    endpoint_at,
                    at_key=False,
                    hint=did_you_mean(str(endpoint), valid),
                )
            elif endpoint is None and kind and valid:
                default = default_endpoint(kind)
                if default is None:
                    self.error(
                        "unknown-endpoint",
                        f"name an endpoint of service '{service}' ({', '.join(valid)})",
                        path,
                        at_key=False,
                    )
                elif default not in valid:
                    self.error(
                        "unknown-endpoint",
                        f"relationship '{name}' takes the default endpoint '{default}' of service '{service}', "
                        f"which defines only {', '.join(valid)}",
                        path,
                        at_key=False,
                        hint=f"write the endpoint: '{service}:{valid[0]}'",
                    )
            return
        if service in self.apps:
            if endpoint not in (None, "http"):
                self.error(
                    "unknown-endpoint",
                    f"application '{service}' has only the endpoint 'http', not '{endpoint}'",
                    endpoint_at,
                    at_key=False,
                )
            return
        what = (
            "the relationship's name"
            if target is None or (isinstance(target, dict) and not target.get("service"))
            else f"'{service}'"
        )
        self.error(
            "unknown-service",
            f"relationship '{name}' points to {what}, but no service or application is called '{service}'",
            service_at,
            at_key=target is None,  # `db:` with nothing after it: the name is what points
            hint=did_you_mean(service, [*self.services, *self.apps])
            or (f"services: {', '.join(self.services)}" if self.services else "the project defines no service"),
        )

    def check_mounts(self, path: DataPath, mounts: dict[str, Any]) -> None:
        seen: dict[str, tuple[str, str]] = {}
        for raw, spec in mounts.items():
            mpath = path + (raw,)
            source: Any = None
            if isinstance(spec, str):
                source = spec.split(":", 1)[0]
            elif isinstance(spec, dict):
                source = spec.get("source")
                if source == "service":
                    service = spec.get("service")
                    if not service:
                        self.error(
                            "missing-key",
                            "a `source: service` mount needs `service:`, the network-storage service it mounts",
                            mpath,
                        )
                    elif self.service_kind(str(service)) != "network-storage":
                        storage = [n for n in self.services if self.service_kind(n) == "network-storage"]
                        self.error(
                            "mount-service",
                            f"mount '{raw}' uses `source: service`, but '{service}' is not a network-storage service",
                            mpath + ("service",),
                            at_key=False,
                            hint=f"network-storage services: {', '.join(storage)}"
                            if storage
                            else "add a service of type network-storage",
                        )
            if not isinstance(source, str):
                continue
            kind = canonical_source(source)
            normal = normalize_mount_path(raw)
            if normal in seen:
                self.error("duplicate-mount", f"mount '{raw}' is the same path as mount '{seen[normal][0]}'", mpath)
                continue
            seen[normal] = (raw, kind)
        for inner, (raw, kind) in seen.items():
            for outer, (outer_raw, outer_kind) in seen.items():
                if inner != outer and (outer == "" or inner.startswith(outer + "/")) and kind != outer_kind:
                    self.error(
                        "mount-nested",
                        f"mount '{raw}' ({kind}) is inside mount '{outer_raw}' of another type ({outer_kind})",
                        path + (raw,),
                        hint="give both mounts the same source, or move one out of the other",
                    )

    def check_cron(self, path: DataPath, name: str, spec: dict[str, Any]) -> None:
        commands = spec.get("commands")
        # `commands:` as a mapping must hold `start`: the schema check says so at the right place.
        if not isinstance(commands, dict) and not commands and not spec.get("cmd"):
            self.error("missing-key", f"cron '{name}' needs `commands.start` (or the legacy `cmd`)", path)
        expression = spec.get("spec")
        if not isinstance(expression, str):
            return
        problem = crons.check_spec(expression, name)
        if problem is not None:
            self.error(
                "bad-cron-spec",
                f"cron '{name}': {problem}",
                path + ("spec",),
                at_key=False,
                hint="5 fields: minute hour day-of-month month day-of-week; H picks a stable value",
            )
            return
        interval = crons.min_interval_minutes(expression, name)
        if interval is not None and interval < crons.MIN_INTERVAL_MINUTES:
            self.warning(
                "cron-too-frequent",
                f"cron '{name}' runs every {interval} min; "
                f"Upsun runs crons at most every {crons.MIN_INTERVAL_MINUTES} min",
                path + ("spec",),
                hint="sunup runs it as written locally; the platform will not",
            )


def check_meaning(data: dict[str, Any], positions: Positions, diagnostics: Diagnostics) -> None:
    """Add a diagnostic for every reference to something undefined and every unparsable value."""
    _Checker(data, positions, diagnostics).run()
