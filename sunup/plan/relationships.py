"""What an instance is told about its relationships: PLATFORM_RELATIONSHIPS and `<REL>_<KEY>` (spec §5).

Pure code: the caller hands in where each (service, endpoint) is reachable and with which
credentials; nothing here opens a socket or reads a state file. An instance gets entries for
**exactly** the relationships of its group (after inheritance), nothing more.

    relationships_environment(group, project, access)
        -> RelationshipsEnvironment(variables={PLATFORM_RELATIONSHIPS, MYSQL_HOST, ...}, warnings)

Each entry has exactly the keys the platform gives (`ENTRY_KEYS`). A relationship to another
application (endpoint `http`) is reachable only when the caller knows that app's web instance;
otherwise it is left out and a warning says so.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sunup.config.catalog import SQL_TYPES
from sunup.plan.environment import encode
from sunup.plan.model import GroupPlan, ProjectPlan, RelationshipPlan

#: The keys of one PLATFORM_RELATIONSHIPS entry, in the platform's order.
ENTRY_KEYS = (
    "username",
    "password",
    "scheme",
    "service",
    "rel",
    "host",
    "port",
    "ip",
    "hostname",
    "path",
    "query",
    "fragment",
    "cluster",
    "type",
    "public",
    "host_mapped",
    "epoch",
)

#: The endpoint name of a relationship to another application.
APP_ENDPOINT = "http"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where one endpoint of a service (or an app's web instance) is reached, and as whom."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    #: The default schema / database / vhost; None when the service has none.
    path: str | None = None


@dataclass(frozen=True, slots=True)
class RelationshipsEnvironment:
    #: PLATFORM_RELATIONSHIPS and every `<REL>_<KEY>` / `<REL>_URL` variable.
    variables: Mapping[str, str]
    #: The decoded content of PLATFORM_RELATIONSHIPS: {rel: [entry]}.
    relationships: Mapping[str, list[dict[str, Any]]]
    #: Relationships left out, each with the reason.
    warnings: tuple[str, ...] = ()


#: (service or app name, endpoint) -> credentials.
AccessMap = Mapping[tuple[str, str], Credentials]


def entry_url(entry: Mapping[str, Any]) -> str:
    """``scheme://user:pass@host:port/path`` of one entry (the user part only when there is a user)."""
    user = ""
    if entry.get("username"):
        user = urllib.parse.quote(str(entry["username"]), safe="")
        if entry.get("password") is not None:
            user += ":" + urllib.parse.quote(str(entry["password"]), safe="")
        user += "@"
    port = f":{entry['port']}" if entry.get("port") is not None else ""
    path = f"/{urllib.parse.quote(str(entry['path']), safe='')}" if entry.get("path") else ""
    return f"{entry['scheme']}://{user}{entry['host']}{port}{path}"


def variable_prefix(relationship: str) -> str:
    """The `<REL>` of `<REL>_<KEY>`: upper-cased, every character outside [0-9A-Z_] replaced by `_`."""
    return re.sub(r"[^0-9A-Z_]", "_", relationship.upper())


def variable_value(value: Any) -> str:
    """A key's value as the platform renders it in a service variable."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def relationship_entry(
    relationship: RelationshipPlan, project: ProjectPlan, credentials: Credentials, *, cluster: str
) -> dict[str, Any]:
    """The one PLATFORM_RELATIONSHIPS entry of `relationship`, reached through `credentials`."""
    service = project.service(relationship.service)
    if service is not None:
        scheme, type_ = service.scheme, service.type
        sql = service.kind in SQL_TYPES
    else:
        app = project.app(relationship.service)
        scheme, type_, sql = "http", (app.type if app else ""), False
    return {
        "username": credentials.username,
        "password": credentials.password,
        "scheme": scheme,
        "service": relationship.service,
        "rel": relationship.endpoint,
        "host": credentials.host,
        "port": credentials.port,
        "ip": credentials.host,
        "hostname": credentials.host,
        "path": credentials.path,
        "query": {"is_master": True} if sql else [],
        "fragment": None,
        "cluster": cluster,
        "type": type_,
        "public": False,
        "host_mapped": False,
        "epoch": 0,
    }


def relationships_environment(group: GroupPlan, project: ProjectPlan, access: AccessMap) -> RelationshipsEnvironment:
    """PLATFORM_RELATIONSHIPS and the service variables of `group`, for exactly its relationships."""
    cluster = "-".join(
        part
        for part in (group.environment.get("PLATFORM_PROJECT"), group.environment.get("PLATFORM_ENVIRONMENT"))
        if part
    )
    decoded: dict[str, list[dict[str, Any]]] = {}
    variables: dict[str, str] = {}
    warnings: list[str] = []
    for relationship in group.relationships:
        credentials = access.get((relationship.service, relationship.endpoint))
        if credentials is None:
            what = "application" if project.service(relationship.service) is None else "service"
            warnings.append(
                f"relationship '{relationship.name}' of {group.instance_name} is left out: "
                f"{what} '{relationship.service}' ({relationship.endpoint}) is not running"
            )
            continue
        entry = relationship_entry(relationship, project, credentials, cluster=cluster)
        decoded[relationship.name] = [entry]
        prefix = variable_prefix(relationship.name)
        for key in ENTRY_KEYS:
            variables[f"{prefix}_{variable_prefix(key)}"] = variable_value(entry[key])
        variables[f"{prefix}_URL"] = entry_url(entry)
    variables["PLATFORM_RELATIONSHIPS"] = encode(decoded)
    return RelationshipsEnvironment(variables=variables, relationships=decoded, warnings=tuple(warnings))
