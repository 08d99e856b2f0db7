"""Secrets named by their content, and pod templates pointing at the new names (pure).

A pod reads its Secret's values once, at its start: changing a Secret in place changes nothing
until each pod happens to restart. Named by a hash of their content (``app-web-relationships-
1a2b3c4d5e``, immutable), a changed Secret is a new name, so the pod templates that use it change
and their Deployments roll; an unchanged one keeps its name and rolls nothing. The older Secrets
of the same origin (label `ORIGIN_LABEL`) are deleted once the rollout is done.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sunup.export.kubernetes.naming import label_value

#: On a hashed Secret: the name it has in the export.
ORIGIN_LABEL = "sunup.dev/secret-of"
HASH_CHARS = 10
#: Kinds with a pod template, and where it is.
TEMPLATE_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def content_hash(secret: Mapping[str, Any]) -> str:
    """A digest of what a Secret holds (its type, data and stringData)."""
    content = {k: secret.get(k) for k in ("type", "data", "stringData")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:HASH_CHARS]


def pod_spec(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    path = TEMPLATE_PATHS.get(str(obj.get("kind")))
    node: Any = obj
    for key in path or ():
        node = node.get(key) if isinstance(node, dict) else None
    return node if path and isinstance(node, dict) else None


def _references(spec: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """(dict, key) of every Secret name a pod spec refers to."""
    for group in ("containers", "initContainers"):
        for container in spec.get(group) or []:
            for source in container.get("envFrom") or []:
                ref = source.get("secretRef")
                if isinstance(ref, dict) and "name" in ref:
                    yield ref, "name"
            for variable in container.get("env") or []:
                ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
                if isinstance(ref, dict) and "name" in ref:
                    yield ref, "name"
    for volume in spec.get("volumes") or []:
        secret = volume.get("secret")
        if isinstance(secret, dict) and "secretName" in secret:
            yield secret, "secretName"
        for source in (volume.get("projected") or {}).get("sources") or []:
            ref = source.get("secret")
            if isinstance(ref, dict) and "name" in ref:
                yield ref, "name"


def referenced(objects: Sequence[Mapping[str, Any]]) -> set[str]:
    """The Secret names the pod templates of `objects` refer to."""
    found: set[str] = set()
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None:
            found.update(holder[key] for holder, key in _references(spec))
    return found


def with_hashed_secrets(objects: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`objects` (copied) with every Secret a pod template uses renamed by its content and made
    immutable, and the templates pointing at the new names; and {old name: new name}."""
    result = [copy.deepcopy(dict(obj)) for obj in objects]
    used = referenced(result)
    renames: dict[str, str] = {}
    for obj in result:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        if obj.get("kind") != "Secret" or name not in used:
            continue
        new = f"{name[: 253 - HASH_CHARS - 1]}-{content_hash(obj)}"
        renames[name] = new
        meta["name"] = new
        meta.setdefault("labels", {})[ORIGIN_LABEL] = label_value(name)
        obj["immutable"] = True
    for obj in result:
        spec = pod_spec(obj)
        if spec is not None:
            for holder, key in _references(spec):
                holder[key] = renames.get(holder[key], holder[key])
    return result, renames
