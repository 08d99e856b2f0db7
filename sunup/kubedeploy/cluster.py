"""The Kubernetes API as the choreography needs it: plain dicts in, plain dicts out.

`Cluster` is what `sunup.kubedeploy.choreography` calls; `official.OfficialCluster` implements
it with the official client. Every failure of a call is a `ClusterError` naming the object and
what was asked (never a client traceback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sunup.errors import RuntimeFailure

#: kind -> (API group/version, plural, namespaced): the kinds the exporter writes.
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("v1", "namespaces", False),
    "Secret": ("v1", "secrets", True),
    "ConfigMap": ("v1", "configmaps", True),
    "Service": ("v1", "services", True),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims", True),
    "ServiceAccount": ("v1", "serviceaccounts", True),
    "Deployment": ("apps/v1", "deployments", True),
    "StatefulSet": ("apps/v1", "statefulsets", True),
    "Job": ("batch/v1", "jobs", True),
    "CronJob": ("batch/v1", "cronjobs", True),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies", True),
    "Ingress": ("networking.k8s.io/v1", "ingresses", True),
}


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """One object: its kind, namespace ("" for cluster-wide kinds) and name."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Ref:
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))

    def describe(self) -> str:
        return f"{self.kind} {self.name}" + (f" (namespace {self.namespace})" if self.namespace else "")


class ClusterError(RuntimeFailure):
    """A call to the API failed: which object, what was asked, what the API said."""

    def __init__(self, ref: Ref, action: str, status: int | None, reason: str) -> None:
        code = f"HTTP {status}: " if status else ""
        super().__init__(f"{action} {ref.describe()}: {code}{reason}")
        self.ref = ref
        self.status = status


class Cluster(Protocol):
    """What the choreography asks of the API."""

    def read(self, ref: Ref) -> dict[str, Any] | None:
        """The object, or None when there is none."""

    def list(self, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The objects of `kind` in `namespace` whose labels match `selector` (``a=b,c=d``)."""

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create `obj`; ClusterError with status 409 when it exists."""

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of `obj` (field manager ``sunup``, conflicts forced)."""

    def patch(self, ref: Ref, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386)."""

    def delete(self, ref: Ref) -> None:
        """Delete the object (its dependents in the background); nothing when it is gone."""


def kind_info(ref: Ref) -> tuple[str, str, bool]:
    info = KINDS.get(ref.kind)
    if info is None:
        raise ClusterError(ref, "cannot handle", None, f"sunup does not know the kind {ref.kind!r}")
    return info


def object_path(ref: Ref, *, collection: bool = False) -> str:
    """The REST path of `ref` (or of its collection)."""
    api_version, plural, namespaced = kind_info(ref)
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespaced:
        base += f"/namespaces/{ref.namespace}"
    base += f"/{plural}"
    return base if collection else f"{base}/{ref.name}"
