"""Which pods the exported NetworkPolicies let open which port of which pod.

A connection from pod template A to port P of pod template B is allowed when both sides allow
it: B's ingress (no policy of type Ingress selects B, or a rule of one admits A on P) and A's
egress alike. The evaluation is conservative where Kubernetes leaves it to the network plugin:
an `ipBlock` is taken to match pods too (some plugins do), so the result is what the policies
allow at most. Pods are those of one namespace (the export's); a `namespaceSelector` matches it.

`service_reachability(objects)` gives, for every pod of an app's group, the services whose
pods it may open: the tests compare it with the plan's relationships.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sunup.export.kubernetes import objects as obj
from sunup.export.kubernetes.templates import PodTemplate, pod_templates


@dataclass(frozen=True, slots=True)
class Policy:
    selector: Mapping[str, Any]
    types: tuple[str, ...]
    ingress: tuple[Mapping[str, Any], ...]
    egress: tuple[Mapping[str, Any], ...]


def policies_of(items: Iterable[dict[str, Any]]) -> list[Policy]:
    found = []
    for item in items:
        if item.get("kind") != "NetworkPolicy":
            continue
        spec = item.get("spec") or {}
        types = tuple(spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]))
        found.append(
            Policy(
                spec.get("podSelector") or {}, types, tuple(spec.get("ingress") or ()), tuple(spec.get("egress") or ())
            )
        )
    return found


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) selects these labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or ():
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_matches(peer: Mapping[str, Any], other: PodTemplate) -> bool:
    if "ipBlock" in peer:
        return True  # conservative: a CIDR may hold pod addresses
    pod_selector = peer.get("podSelector")
    return pod_selector is None or selects(pod_selector, other.labels)


def _port_matches(ports: Iterable[Mapping[str, Any]] | None, port: int, protocol: str, dest: PodTemplate) -> bool:
    listed = list(ports or ())
    if not listed:
        return True
    for entry in listed:
        if entry.get("protocol", "TCP") != protocol:
            continue
        value = entry.get("port")
        if value is None:
            return True
        number = dest.port_number(value) if isinstance(value, str) else int(value)
        end = entry.get("endPort", number)
        if number is not None and number <= port <= end:
            return True
    return False


def _side_allows(
    policies: list[Policy],
    kind: str,
    *,
    subject: PodTemplate,
    peer: PodTemplate,
    port: int,
    protocol: str,
    dest: PodTemplate,
) -> bool:
    applying = [p for p in policies if kind in p.types and selects(p.selector, subject.labels)]
    if not applying:
        return True
    for policy in applying:
        for rule in policy.ingress if kind == "Ingress" else policy.egress:
            peers = rule.get("from" if kind == "Ingress" else "to")
            if peers and not any(_peer_matches(p, peer) for p in peers):
                continue
            if _port_matches(rule.get("ports"), port, protocol, dest):
                return True
    return False


def may_open(policies: list[Policy], source: PodTemplate, dest: PodTemplate, port: int, protocol: str = "TCP") -> bool:
    """Whether pods of `source` may open `port` of pods of `dest`."""
    return _side_allows(
        policies, "Ingress", subject=dest, peer=source, port=port, protocol=protocol, dest=dest
    ) and _side_allows(policies, "Egress", subject=source, peer=dest, port=port, protocol=protocol, dest=dest)


def service_reachability(items: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], set[str]]:
    """{(app, group, role): services whose ports the group's pods of that role may open}."""
    everything = list(items)
    policies = policies_of(everything)
    templates = list(pod_templates(everything))
    servers = [t for t in templates if obj.SERVICE_LABEL in t.labels]
    result: dict[tuple[str, str, str], set[str]] = {}
    for source in templates:
        if obj.APP_LABEL not in source.labels:
            continue
        key = (source.labels[obj.APP_LABEL], source.labels[obj.GROUP_LABEL], source.labels[obj.ROLE_LABEL])
        reached = result.setdefault(key, set())
        for server in servers:
            ports = [int(p["containerPort"]) for c in server.spec.get("containers", ()) for p in c.get("ports", ())]
            if any(may_open(policies, source, server, port) for port in ports):
                reached.add(server.labels[obj.SERVICE_LABEL])
    return result
