"""Checking the merged document against the schema, one diagnostic per violation.

jsonschema reports what is wrong and where in the data; this module names it the way a user
reads the file: the key path, what was expected, what was found, the closest valid key.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from sunup.config.diagnostics import Diagnostics, did_you_mean
from sunup.config.schema import project_schema
from sunup.config.yamlfile import DataPath, Positions, render_path

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}

#: Keys users write on an application that belong one level down, and where they go.
_BELOW_APPLICATION = {
    "commands": "`web:` or a worker",
    "locations": "`web:`",
    "upstream": "`web:`",
    "start": "`web.commands` or a worker's `commands`",
}
#: Keys users write on `web:` or a worker that belong in its `commands:`.
_BELOW_GROUP = {"start": "`commands:`", "pre_start": "`commands:`", "post_start": "`commands:`"}
#: Sizing keys of the Platform.sh files: on Upsun they are set per environment, not in the YAML.
_SIZING_KEYS = ("disk", "size")


def describe(value: Any) -> str:
    """How a value reads to a user: ``a string ('x')``, ``a list``, ``nothing``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ('{shown}')"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


@functools.cache
def _validator(legacy: bool) -> Draft202012Validator:
    return Draft202012Validator(project_schema(legacy=legacy))


def check_schema(data: Any, positions: Positions, diagnostics: Diagnostics, *, legacy: bool) -> None:
    """Add one diagnostic for each place where `data` does not fit the schema."""
    already = {(d.mark.file, d.mark.line, d.mark.column) for d in diagnostics.errors if d.mark}
    for error in _leaves(_validator(legacy).iter_errors(data)):
        path: DataPath = tuple(error.absolute_path)
        if error.instance is None:
            mark = positions.value(path)
            if mark and (mark.file, mark.line, mark.column) in already:
                continue  # a missing include or a YAML error already explains this value
        _report(error, path, positions, diagnostics)


def _leaves(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    """Errors to report, descending into the branch of an `anyOf` that fits the value best."""
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            yield from _leaves(iter(_best_branch(error.context)))
        else:
            yield error


def _best_branch(context: list[ValidationError]) -> list[ValidationError]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in context:
        branches.setdefault(int(sub.schema_path[0]), []).append(sub)

    # A branch whose own type matched (its errors are deeper than its type) is the one meant.
    def score(errs: list[ValidationError]) -> tuple[int, int]:
        type_mismatch = any(e.validator == "type" and not e.relative_path for e in errs)
        return (1 if type_mismatch else 0, len(errs))

    return min(branches.values(), key=score)


def _report(error: ValidationError, path: DataPath, positions: Positions, diagnostics: Diagnostics) -> None:
    where = render_path(path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "required" and not path:
        return  # a project without `applications`: the loader reports it, in the file that lacks it
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = list(schema.get("properties", {}))
        for key in error.instance:
            if key in schema.get("properties", {}):
                continue
            key_path = path + (key,)
            diagnostics.error(
                "unknown-key",
                f"'{key}' is not a key of {where or 'the configuration'}",
                positions.keys.get(key_path) or positions.value(key_path),
                path=render_path(key_path),
                hint=_misplaced_hint(key, path) or did_you_mean(key, known) or _known_keys_hint(known),
            )
    elif kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [k for k in schema.get("required", []) if k not in present]
        for key in missing:
            diagnostics.error(
                "missing-key",
                f"'{key}' is required in {where}",
                positions.key(path),
                path=render_path(path + (key,)),
            )
    elif kind == "type":
        declared = schema.get("type")
        expected: list[str] = declared if isinstance(declared, list) else [str(declared)]
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in expected if t != "null")
        diagnostics.error(
            "wrong-type",
            f"{where} must be {wanted}, not {describe(error.instance)}",
            positions.value(path),
            path=where,
        )
    elif kind == "enum":
        allowed = [v for v in schema.get("enum", []) if v is not None]
        diagnostics.error(
            "bad-value",
            f"{where} must be one of {', '.join(map(str, allowed))}, not {describe(error.instance)}",
            positions.value(path),
            path=where,
            hint=did_you_mean(str(error.instance), map(str, allowed)),
        )
    elif "propertyNames" in error.absolute_schema_path:
        name = str(error.instance)
        diagnostics.error(
            "bad-name",
            f"'{name}' is not a valid name in {where}: use lowercase letters, digits, '-' and '_'",
            positions.keys.get(path + (name,)) or positions.value(path),
            path=render_path(path + (name,)),
        )
    elif kind == "pattern":
        diagnostics.error(
            "bad-value",
            f"{where} has an invalid form: {describe(error.instance)}",
            positions.value(path),
            path=where,
            hint=_pattern_hint(path),
        )
    else:
        diagnostics.error("invalid", f"{where}: {error.message}", positions.value(path), path=where)


def _misplaced_hint(key: str, path: DataPath) -> str | None:
    """A hint for a key (or a typo of one) written one level above where it belongs."""
    if key in _SIZING_KEYS and "routes" not in path:
        return f"Upsun sets {key} with `upsun resources:set`, not in the configuration"
    if len(path) == 2 and path[0] == "applications":
        below, where = _BELOW_APPLICATION, "the application itself"
    elif path[:1] == ("applications",) and (path[2:] == ("web",) or (len(path) == 4 and path[2] == "workers")):
        below, where = _BELOW_GROUP, f"`{path[-1]}:` itself"
    else:
        return None
    matches = difflib.get_close_matches(key, list(below), n=1, cutoff=0.8)
    if not matches:
        return None
    nested = matches[0]
    named = f"'{key}'" if nested == key else f"did you mean '{nested}'? it"
    return f"{named} goes under {below[nested]}, not on {where}"


def _known_keys_hint(known: list[str]) -> str | None:
    if not known or len(known) > 12:
        return None
    return "expected one of " + ", ".join(known)


def _pattern_hint(path: DataPath) -> str | None:
    if "relationships" in path:
        return "write a relationship as 'service:endpoint', as null, or as {service: ..., endpoint: ...}"
    if "mounts" in path:
        return "write a mount as {source: storage, source_path: ...}"
    return None
