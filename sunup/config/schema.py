"""The shape of an Upsun configuration, as JSON Schema data.

Written for sunup from the platform's documentation (application, services and routes
references). `sunup.config.checks` validates the merged document against it and turns each
violation into a diagnostic; `sunup schema` prints it for editors. An empty value (``key:`` with
nothing after it) means "unset" on the platform, so every optional key also accepts null.

`LEGACY_*` extensions are the keys only the Platform.sh files accept (`name`, `size`, `disk`,
`resources`...).
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
SERVICE_TYPES = (
    "mariadb",
    "mysql",
    "oracle-mysql",
    "mariadb-replica",
    "postgresql",
    "postgresql-replica",
    "redis",
    "redis-persistent",
    "valkey",
    "valkey-persistent",
    "rabbitmq",
    "network-storage",
    "memcached",
    "elasticsearch",
    "elasticsearch-enterprise",
    "opensearch",
    "solr",
    "mongodb",
    "mongodb-enterprise",
    "influxdb",
    "kafka",
    "varnish",
    "vault-kms",
    "chrome-headless",
    "clickhouse",
    "gotenberg",
)
#: Service types sunup runs as local servers (spec §5); the others validate but do not run.
RUNNABLE_SERVICE_TYPES = frozenset(
    {
        "mariadb",
        "mysql",
        "oracle-mysql",
        "postgresql",
        "redis",
        "redis-persistent",
        "rabbitmq",
        "network-storage",
    }
)
RUNTIMES = (
    "python",
    "nodejs",
    "php",
    "ruby",
    "golang",
    "java",
    "elixir",
    "dotnet",
    "lisp",
    "rust",
    "composable",
    "bun",
)
CONTAINER_PROFILES = ("HIGH_CPU", "BALANCED", "HIGH_MEMORY", "HIGHER_MEMORY")
MOUNT_SOURCES = ("storage", "instance", "tmp", "temporary", "service", "local", "shared")
SSH_ROLES = ("viewer", "contributor", "admin")
PRIVILEGES = ("ro", "rw", "admin", "replication", "replication-admin")


def _t(*types: str) -> Schema:
    return {"type": list(types) + ["null"]}


STRING = _t("string")
STRING_REQUIRED: Schema = {"type": "string"}
BOOL = _t("boolean")
INTEGER = _t("integer")
NUMBER = _t("number")
SCALAR = _t("string", "number", "boolean")
ANY: Schema = {}
STRINGS = {**_t("array"), "items": {"type": "string"}}


def obj(properties: dict[str, Schema], *, required: tuple[str, ...] = (), nullable: bool = True) -> Schema:
    """A mapping with exactly these keys."""
    schema: Schema = {
        "type": ["object", "null"] if nullable else "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def map_of(values: Schema, *, names: str | None = None) -> Schema:
    """A mapping from names the user chooses to values of one shape."""
    schema: Schema = {**_t("object"), "additionalProperties": values}
    if names:
        schema["propertyNames"] = {"pattern": names}
    return schema


def enum(*values: str) -> Schema:
    return {"enum": [*values, None]}


COMMAND = _t("string")
COMMANDS = obj({"pre_start": COMMAND, "start": COMMAND, "post_start": COMMAND})

RELATIONSHIP: Schema = {
    "type": ["string", "object", "null"],
    "pattern": r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$",
    # `{}` means the same as null: the service of the relationship's name.
    "properties": {"service": STRING, "endpoint": STRING},
    "additionalProperties": False,
}
RELATIONSHIPS = map_of(RELATIONSHIP, names=r"^[A-Za-z0-9_.-]+$")

MOUNT: Schema = {
    "type": ["object", "string"],
    # The legacy string form: 'shared:files/path'.
    "pattern": r"^(shared|local):files(/.*)?$",
    "properties": {
        "source": enum(*MOUNT_SOURCES),
        "source_path": STRING,
        "service": STRING,
    },
    "required": ["source"],
    "additionalProperties": False,
}
MOUNTS = map_of(MOUNT)

VARIABLES = map_of(_t("object"), names=r"^[A-Za-z0-9_.:-]+$")
ACCESS = obj({"ssh": enum(*SSH_ROLES)})
FIREWALL = obj(
    {
        "outbound": {
            **_t("array"),
            "items": obj(
                {
                    "ips": STRINGS,
                    "domains": STRINGS,
                    "ports": {**_t("array"), "items": {"type": ["integer", "string"]}},
                    "protocol": enum("tcp", "udp"),
                }
            ),
        }
    }
)
ADDITIONAL_HOSTS = map_of(STRING_REQUIRED)

_LOCATION_COMMON = {
    "allow": BOOL,
    "expires": _t("string", "integer"),
    "passthru": _t("string", "boolean"),
    "scripts": BOOL,
    "headers": map_of(STRING),
}
LOCATION = obj(
    {
        **_LOCATION_COMMON,
        "root": STRING,
        "index": {"type": ["array", "string", "null"], "items": {"type": "string"}},
        "rules": map_of(obj(dict(_LOCATION_COMMON))),
        "request_buffering": obj({"enabled": BOOL, "max_request_size": _t("string", "integer")}),
    }
)
WEB = obj(
    {
        "commands": COMMANDS,
        # Apply to the web instance only; each replaces the app's top-level key whole.
        "relationships": RELATIONSHIPS,
        "mounts": MOUNTS,
        "variables": VARIABLES,
        "access": ACCESS,
        "upstream": obj({"socket_family": enum("tcp", "unix"), "protocol": enum("http", "fastcgi")}),
        "locations": map_of(LOCATION),
        "move_to_root": BOOL,
        # Platform.sh's older forms of `locations`.
        "document_root": STRING,
        "passthru": STRING,
        "index_files": STRINGS,
        "whitelist": STRINGS,
        "blacklist": STRINGS,
        "expires": _t("string", "integer"),
    }
)

CRON = obj(
    {
        "spec": STRING_REQUIRED,
        # `commands: "drush cron"` is the plain-string form of {start: ...}.
        "commands": {
            "type": ["object", "string"],
            "properties": {"start": STRING_REQUIRED, "stop": STRING},
            "required": ["start"],
            "additionalProperties": False,
        },
        "cmd": STRING_REQUIRED,
        "shutdown_timeout": INTEGER,
        "timeout": INTEGER,
    },
    required=("spec",),
    nullable=False,
)

HOOKS = obj({"build": STRING, "deploy": STRING, "post_deploy": STRING})
#: `dependencies.<manager>`: package → version; PHP's may instead (or also) hold `require` (package →
#: version) and `repositories` (Composer repositories for those global packages).
DEPENDENCIES = {
    **_t("object"),
    "properties": {
        "php": {
            **_t("object"),
            "properties": {
                "require": map_of(_t("string", "number")),
                "repositories": {**_t("array"), "items": {"type": "object"}},
            },
            "additionalProperties": _t("string", "number"),
        }
    },
    "additionalProperties": map_of(_t("string", "number")),
}
BUILD = obj({"flavor": STRING, "caches": map_of(ANY)})
SOURCE = obj(
    {
        "root": STRING,
        "operations": map_of(obj({"command": STRING_REQUIRED}, required=("command",), nullable=False)),
    }
)
OPERATIONS = map_of(obj({"role": enum(*SSH_ROLES), "commands": obj({"start": STRING_REQUIRED})}))
STACK_ITEM: Schema = {"type": ["string", "object"]}
STACK: Schema = {
    "type": ["array", "object", "null"],
    "items": STACK_ITEM,
    "properties": {
        "runtimes": {"type": "array", "items": STACK_ITEM},
        "packages": {"type": "array", "items": STACK_ITEM},
    },
    "additionalProperties": False,
}
# The runtime block holds language-specific settings: documented keys, open values.
RUNTIME = obj(
    {
        "extensions": {**_t("array"), "items": {"type": ["string", "object"]}},
        "disabled_extensions": STRINGS,
        "request_terminate_timeout": INTEGER,
        "sizing_hints": obj({"request_memory": INTEGER, "reserved_memory": INTEGER}),
        "xdebug": obj({"idekey": STRING}),
        "quicklisp": map_of(ANY),
    }
)
PREFLIGHT = obj({"enabled": BOOL, "ignored_rules": STRINGS})
RESOURCES = obj({"base_memory": INTEGER, "memory_ratio": INTEGER})

_SHARED_BY_WORKERS = {
    "relationships": RELATIONSHIPS,
    "mounts": MOUNTS,
    "variables": VARIABLES,
    "access": ACCESS,
    "firewall": FIREWALL,
    "timezone": STRING,
    "container_profile": enum(*CONTAINER_PROFILES),
    "additional_hosts": ADDITIONAL_HOSTS,
}

WORKER = obj({"commands": COMMANDS, **_SHARED_BY_WORKERS})

APPLICATION = obj(
    {
        "type": STRING,
        "stack": STACK,
        "source": SOURCE,
        "build": BUILD,
        "dependencies": DEPENDENCIES,
        "hooks": HOOKS,
        "web": WEB,
        "workers": map_of(WORKER, names=NAME_PATTERN),
        "crons": map_of(CRON, names=r"^[A-Za-z0-9_.-]+$"),
        "runtime": RUNTIME,
        "operations": OPERATIONS,
        "preflight": PREFLIGHT,
        "resources": RESOURCES,
        **_SHARED_BY_WORKERS,
    },
    nullable=False,
)

SERVICE = obj(
    {
        "type": STRING_REQUIRED,
        "configuration": map_of(ANY),
        "relationships": RELATIONSHIPS,
        "firewall": FIREWALL,
    },
    required=("type",),
    nullable=False,
)

ROUTE = obj(
    {
        "type": enum("upstream", "redirect", "proxy"),
        "upstream": STRING,
        "to": STRING,
        # A whole-route redirect's status (301, 302, 307, 308; spec §10).
        "code": INTEGER,
        "id": STRING,
        "primary": BOOL,
        "cache": obj(
            {
                "enabled": BOOL,
                "default_ttl": INTEGER,
                "cookies": STRINGS,
                "headers": STRINGS,
            }
        ),
        "ssi": obj({"enabled": BOOL}),
        "redirects": obj({"expires": _t("string", "integer"), "paths": map_of(ANY)}),
        "tls": obj(
            {
                "strict_transport_security": obj({"enabled": BOOL, "include_subdomains": BOOL, "preload": BOOL}),
                "min_version": STRING,
                "client_authentication": STRING,
                "client_certificate_authorities": STRINGS,
            }
        ),
        "attributes": map_of(STRING),
    },
    nullable=False,
)

PROJECT = obj(
    {
        "applications": map_of(APPLICATION, names=NAME_PATTERN),
        "services": map_of(SERVICE, names=NAME_PATTERN),
        "routes": map_of(ROUTE),
    },
    required=("applications",),
    nullable=False,
)


def project_schema(*, legacy: bool = False) -> Schema:
    """The schema of a whole project; `legacy` adds the keys only Platform.sh files have."""
    schema = copy.deepcopy(PROJECT)
    if legacy:
        app = schema["properties"]["applications"]["additionalProperties"]
        sizing = {"size": enum("AUTO", "S", "M", "L", "XL", "2XL", "4XL"), "disk": INTEGER}
        app["properties"].update(sizing, resources=map_of(ANY))
        worker = app["properties"]["workers"]["additionalProperties"]
        worker["properties"].update(sizing)
        service = schema["properties"]["services"]["additionalProperties"]
        service["properties"].update(sizing, resources=map_of(ANY))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
