"""What every builder of the export shares: the plan, the options, names and the warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sunup.export.kubernetes import Export, ExportOptions, ServicesMode, image_name, naming, objects
from sunup.export.kubernetes.engines import ENGINES, PORTS, STORAGE_KIND
from sunup.plan.model import AppPlan, GroupPlan, ProjectPlan, ServicePlan


@dataclass
class ExportContext:
    plan: ProjectPlan
    options: ExportOptions
    warnings: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.options.namespace

    def warn(self, message: str, *targets: dict[str, Any]) -> None:
        """Record a warning once, and annotate the objects it concerns."""
        if message not in self.warnings:
            self.warnings.append(message)
        for target in targets:
            objects.annotate_warning(target, message)

    def result(self, items: list[dict[str, Any]]) -> Export:
        return Export(objects=tuple(items), warnings=tuple(self.warnings))

    # -- apps and groups ---------------------------------------------------------------------

    def tree_id(self, app: AppPlan) -> str:
        return self.options.tree_ids.get(app.name) or app.web.environment.get("PLATFORM_TREE_ID", "0" * 40)

    def image(self, app: AppPlan) -> str:
        return image_name(self.options, app.name, self.tree_id(app))

    def group_name(self, group: GroupPlan) -> str:
        """``app-web``, ``app-queue``: the Deployment and (web) Service."""
        return naming.service_label(group.app, group.name)

    def group_labels(self, group: GroupPlan, role: str) -> dict[str, str]:
        return {
            **objects.COMMON_LABELS,
            objects.APP_LABEL: naming.label_value(group.app),
            objects.GROUP_LABEL: naming.label_value(group.name),
            objects.ROLE_LABEL: role,
        }

    def reach_labels(self, group: GroupPlan) -> dict[str, str]:
        """The labels that let a group's pods through the NetworkPolicies of its relationships."""
        return {reach_label(rel.service): "true" for rel in group.relationships if self.reachable(rel.service)}

    def reachable(self, name: str) -> bool:
        """Whether `name` (a service or an app) is reached over the network (not storage)."""
        service = self.plan.service(name)
        if service is None:
            return self.plan.app(name) is not None
        return service.kind != STORAGE_KIND

    # -- services ----------------------------------------------------------------------------

    def in_cluster(self, service: ServicePlan) -> bool:
        """Whether the service runs as a StatefulSet in the namespace."""
        return self.options.services is ServicesMode.IN_CLUSTER and service.kind in ENGINES

    def service_name(self, service: ServicePlan) -> str:
        """The Service of a service: its DNS name is the relationship's host."""
        return naming.service_label(service.name)

    def service_port(self, service: ServicePlan) -> int | None:
        return PORTS.get(service.kind)

    def service_labels(self, service: ServicePlan) -> dict[str, str]:
        return {
            **objects.COMMON_LABELS,
            objects.SERVICE_LABEL: naming.label_value(service.name),
            objects.ROLE_LABEL: "service",
        }


def reach_label(service: str) -> str:
    return objects.REACH_PREFIX + naming.label_value(service)
