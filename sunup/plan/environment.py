"""The environment variables the platform gives an instance, as far as they are static (spec §6).

Run-time values (PORT or SOCKET, PLATFORM_APP_DIR, PLATFORM_RELATIONSHIPS and the service
variables) depend on ports and folders and are added by the runner.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any


def encode(value: Any) -> str:
    """Base64 of compact JSON, as the platform encodes PLATFORM_* structures."""
    return base64.b64encode(json.dumps(value, separators=(",", ":"), default=str).encode()).decode("ascii")


def env_value(value: Any) -> str:
    """A variable's value as an environment string: strings as is, others as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def variables_environment(variables: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """`env:` variables as environment variables (name as written, and upper-cased when that differs)."""
    env: dict[str, str] = {}
    for name, value in (variables.get("env") or {}).items():
        env[name] = env_value(value)
        if name.upper() != name:
            env[name.upper()] = env_value(value)
    return env


def platform_variables(variables: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The content of PLATFORM_VARIABLES: each non-`env:` variable as ``"<prefix>:<name>": value``."""
    return {
        f"{prefix}:{name}": value
        for prefix, block in variables.items()
        if prefix != "env" and isinstance(block, Mapping)
        for name, value in block.items()
    }
