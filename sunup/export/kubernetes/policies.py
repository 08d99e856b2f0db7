"""NetworkPolicies: a group reaches exactly the services it has a relationship to (spec §5).

    sunup-default-deny   every sunup pod: no ingress, no egress
    sunup-allow-dns      every sunup pod: egress to port 53 (UDP and TCP)
    <service>-ingress    the service's pods admit the pods labelled ``reach.sunup.dev/<service>``
    <app>-web-ingress    web admits everyone when routes lead to it, else the apps related to it
    <app>-<group>-egress the group's pods (instances, crons, hooks) may open its services' ports,
                         other apps' web, and the outside world (only `firewall.outbound` if set)

Enforced only by a CNI that implements NetworkPolicy (Calico, Cilium, kube-router, ...): said.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sunup.export.kubernetes import HTTP_PORT, naming, objects
from sunup.export.kubernetes.context import ExportContext, reach_label
from sunup.export.kubernetes.engines import ENGINES
from sunup.plan.model import AppPlan, GroupPlan

ALL_IPV4 = "0.0.0.0/0"
ALL_IPV6 = "::/0"


def _policy(ctx: ExportContext, name: str, selector: dict[str, str], types: list[str], **rules: Any) -> dict[str, Any]:
    return objects.obj(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        objects.metadata(name, ctx.namespace),
        spec={"podSelector": {"matchLabels": selector}, "policyTypes": types, **rules},
    )


def policies(ctx: ExportContext) -> list[dict[str, Any]]:
    everyone = dict(objects.COMMON_LABELS)
    made = [
        _policy(ctx, "sunup-default-deny", everyone, ["Ingress", "Egress"]),
        _policy(
            ctx,
            "sunup-allow-dns",
            everyone,
            ["Egress"],
            egress=[{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}],
        ),
    ]
    ctx.warn(
        "the NetworkPolicies (a group reaches only the services of its relationships) are enforced only "
        "by a network plugin that implements them (Calico, Cilium, kube-router, ...); others ignore them",
        made[0],
    )
    for service in ctx.plan.services:
        if not ctx.in_cluster(service):
            continue
        admitted = [{"podSelector": {"matchLabels": {reach_label(service.name): "true"}}}]
        port = ENGINES[service.kind].port
        made.append(
            _policy(
                ctx,
                naming.dns_label(service.name, "ingress"),
                ctx.service_labels(service),
                ["Ingress"],
                ingress=[{"from": admitted, "ports": [{"protocol": "TCP", "port": port}]}],
            )
        )
    for app in ctx.plan.apps:
        web = _web_ingress(ctx, app)
        if web is not None:
            made.append(web)
        made.extend(_egress(ctx, group) for group in app.groups)
    return made


def routed_apps(ctx: ExportContext) -> set[str]:
    """The apps some route leads to (their web is public, as behind the platform's router)."""
    apps = set()
    for route in ctx.plan.routes.values():
        if isinstance(route, dict) and route.get("type", "upstream") == "upstream":
            upstream = route.get("upstream")
            if isinstance(upstream, str):
                apps.add(upstream.partition(":")[0])
    return apps


def _web_ingress(ctx: ExportContext, app: AppPlan) -> dict[str, Any] | None:
    selector = ctx.group_labels(app.web, "instance")
    ports = [{"protocol": "TCP", "port": HTTP_PORT}]
    name = naming.dns_label(app.name, "web", "ingress")
    if app.name in routed_apps(ctx):
        return _policy(ctx, name, selector, ["Ingress"], ingress=[{"ports": ports}])
    related = any(r.service == app.name for a in ctx.plan.apps for g in a.groups for r in g.relationships)
    if not related:
        return None
    admitted = [{"podSelector": {"matchLabels": {reach_label(app.name): "true"}}}]
    return _policy(ctx, name, selector, ["Ingress"], ingress=[{"from": admitted, "ports": ports}])


def _egress(ctx: ExportContext, group: GroupPlan) -> dict[str, Any]:
    selector = {
        objects.APP_LABEL: naming.label_value(group.app),
        objects.GROUP_LABEL: naming.label_value(group.name),
    }
    rules: list[dict[str, Any]] = []
    for name in sorted({r.service for r in group.relationships}):
        service = ctx.plan.service(name)
        if service is not None and ctx.in_cluster(service):
            rules.append(
                {
                    "to": [{"podSelector": {"matchLabels": ctx.service_labels(service)}}],
                    "ports": [{"protocol": "TCP", "port": ENGINES[service.kind].port}],
                }
            )
        elif service is None and (app := ctx.plan.app(name)) is not None:
            rules.append(
                {
                    "to": [{"podSelector": {"matchLabels": ctx.group_labels(app.web, "instance")}}],
                    "ports": [{"protocol": "TCP", "port": HTTP_PORT}],
                }
            )
    target = _policy(ctx, naming.dns_label(group.app, group.name, "egress"), selector, ["Egress"])
    rules.extend(_outbound(ctx, group, target))
    target["spec"]["egress"] = rules
    return target


def _outbound(ctx: ExportContext, group: GroupPlan, target: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The outside world: everything, or the `firewall.outbound` rules (IPs and ports)."""
    outbound = group.firewall.get("outbound") if group.firewall else None
    if not outbound:
        yield {"to": [{"ipBlock": {"cidr": ALL_IPV4}}, {"ipBlock": {"cidr": ALL_IPV6}}]}
        return
    for rule in outbound:
        if not isinstance(rule, dict):
            continue
        if rule.get("domains"):
            ctx.warn(
                f"{group.instance_name}: firewall rules by domain have no NetworkPolicy form: only their IPs are kept",
                target,
            )
        ips = [
            str(ip) if "/" in str(ip) else f"{ip}/{'128' if ':' in str(ip) else '32'}" for ip in rule.get("ips") or ()
        ]
        protocol = str(rule.get("protocol") or "tcp").upper()
        entry: dict[str, Any] = {}
        if ips or not rule.get("domains"):
            entry["to"] = [{"ipBlock": {"cidr": ip}} for ip in ips] or [
                {"ipBlock": {"cidr": ALL_IPV4}},
                {"ipBlock": {"cidr": ALL_IPV6}},
            ]
        else:
            continue
        ports = [int(p) for p in rule.get("ports") or () if isinstance(p, int) or str(p).isdigit()]
        if ports:
            entry["ports"] = [{"protocol": protocol if protocol in ("TCP", "UDP") else "TCP", "port": p} for p in ports]
        yield entry
