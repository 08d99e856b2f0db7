"""The pod templates inside exported objects: where a workload's labels and pod spec are."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")


@dataclass(frozen=True, slots=True)
class PodTemplate:
    #: The object holding the template (Deployment, StatefulSet, Job or CronJob).
    owner: dict[str, Any]
    labels: dict[str, str]
    spec: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.owner["kind"])

    @property
    def name(self) -> str:
        return str(self.owner["metadata"]["name"])

    def containers(self) -> list[dict[str, Any]]:
        return [*self.spec.get("initContainers", ()), *self.spec.get("containers", ())]

    def port_number(self, name: str) -> int | None:
        """The container port called `name`."""
        for container in self.spec.get("containers", ()):
            for port in container.get("ports", ()):
                if port.get("name") == name:
                    return int(port["containerPort"])
        return None


def template_of(item: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template (metadata + spec) of a workload object, None for other kinds."""
    kind = item.get("kind")
    spec = item.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "Job"):
        return spec.get("template")
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    return None


def pod_templates(items: Iterable[dict[str, Any]]) -> Iterator[PodTemplate]:
    for item in items:
        template = template_of(item)
        if template is not None:
            labels = (template.get("metadata") or {}).get("labels") or {}
            yield PodTemplate(item, dict(labels), template.get("spec") or {})
