"""The rules strict schemas do not check (kubernetes.md, "Validation without a cluster").

`check_objects(objects)` returns every problem found, as ``Kind/name: what`` lines: names
(DNS-1123, lengths, uniqueness), label keys and values, selectors matching their pod templates,
quantities, CronJob schedules (five fields, no `H`, Kubernetes' syntax) and name lengths,
restart policies per kind, references (volume mounts to volumes, Secrets, claims, Service and
Ingress ports), environment names, and NetworkPolicy types. Used by the tests on every export,
and reusable on any list of objects.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sunup.export.kubernetes import naming
from sunup.export.kubernetes.templates import pod_templates, template_of

QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
#: Kinds whose names must be DNS labels (63); the others take DNS subdomains (253).
LABEL_NAMED = ("Service", "Deployment", "StatefulSet", "Job", "CronJob", "Namespace")
RESTART_POLICIES = {
    "Deployment": {"Always"},
    "StatefulSet": {"Always"},
    "Job": {"Never", "OnFailure"},
    "CronJob": {"Never", "OnFailure"},
}
#: Allowed values of each schedule field (minute, hour, day of month, month, day of week).
_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
POLICY_TYPES = {"Ingress", "Egress"}
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
#: The most a Secret or ConfigMap holds (1 MiB).
DATA_LIMIT = 1 << 20


def check_objects(items: Iterable[dict[str, Any]]) -> list[str]:
    objects = list(items)
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    secrets = {o["metadata"]["name"] for o in objects if o.get("kind") == "Secret"}
    claims = {o["metadata"]["name"] for o in objects if o.get("kind") == "PersistentVolumeClaim"}
    maps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o.get("kind") == "ConfigMap"}
    for item in objects:
        where = f"{item.get('kind')}/{(item.get('metadata') or {}).get('name')}"
        problems.extend(f"{where}: {p}" for p in _check(item, objects, seen, secrets, claims))
        template = template_of(item)
        for container in [] if template is None else _containers(template.get("spec") or {}):
            for env in container.get("env") or ():
                ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
                if ref is not None and ref.get("key") not in maps.get(ref.get("name"), {}):
                    problems.append(
                        f"{where}: '{env['name']}' reads {ref.get('name')}/{ref.get('key')}, which is not exported"
                    )
    return problems


def _check(
    item: dict[str, Any],
    objects: list[dict[str, Any]],
    seen: set[tuple[str, str]],
    secrets: set[str],
    claims: set[str],
) -> Iterator[str]:
    kind = str(item.get("kind"))
    meta = item.get("metadata") or {}
    name = str(meta.get("name", ""))
    yield from _name(kind, name)
    if (kind, name) in seen:
        yield "two objects of this kind have this name"
    seen.add((kind, name))
    if not naming.DNS_LABEL.match(str(meta.get("namespace", ""))):
        yield f"namespace '{meta.get('namespace')}' is not a DNS-1123 label"
    yield from _labels(meta.get("labels") or {})
    spec = item.get("spec") or {}
    template = template_of(item)
    if template is not None:
        labels = (template.get("metadata") or {}).get("labels") or {}
        yield from _labels(labels)
        yield from _pod(kind, template.get("spec") or {}, secrets, claims, spec)
        if kind in ("Deployment", "StatefulSet"):
            yield from _selector(spec.get("selector") or {}, labels)
    if kind == "CronJob":
        if len(name) > naming.CRONJOB_LIMIT:
            yield f"a CronJob's name has at most {naming.CRONJOB_LIMIT} characters ({len(name)})"
        yield from _schedule(str(spec.get("schedule", "")))
        zone = spec.get("timeZone")
        if zone is not None and not _zone_ok(str(zone)):
            yield f"timeZone '{zone}' is not a time zone"
    if kind == "Service":
        yield from _service(spec, objects)
    if kind == "NetworkPolicy":
        yield from _policy(spec)
    if kind == "Ingress":
        yield from _ingress(spec, objects)
    if kind in ("Secret", "ConfigMap"):
        yield from _data(item)
    if kind == "PersistentVolumeClaim":
        yield from _quantities((spec.get("resources") or {}).get("requests") or {})


def _containers(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", ()), *spec.get("containers", ())]


def _name(kind: str, name: str) -> Iterator[str]:
    if kind == "Service" and not naming.DNS_1035.match(name):
        yield f"name '{name}' of a Service does not start with a letter (DNS-1035)"
    if kind in LABEL_NAMED:
        if not naming.DNS_LABEL.match(name) or len(name) > naming.LABEL_LIMIT:
            yield f"name '{name}' is not a DNS-1123 label (lowercase, digits, '-', at most 63)"
    elif not naming.DNS_SUBDOMAIN.match(name) or len(name) > 253:
        yield f"name '{name}' is not a DNS-1123 subdomain"


def _data(item: Mapping[str, Any]) -> Iterator[str]:
    size = 0
    for field in ("data", "stringData"):
        for key, value in (item.get(field) or {}).items():
            if not DATA_KEY.match(key) or len(key) > 253:
                yield f"key '{key}' is not a valid {item.get('kind')} key"
            size += len(key) + len(str(value).encode())
    if size > DATA_LIMIT:
        yield f"its data has {size} bytes, more than the {DATA_LIMIT} Kubernetes stores"


def _labels(labels: Mapping[str, Any]) -> Iterator[str]:
    for key, value in labels.items():
        prefix, _, label = key.rpartition("/")
        if (
            (prefix and (len(prefix) > 253 or not LABEL_PREFIX.match(prefix)))
            or not LABEL_NAME.match(label)
            or len(label) > 63
        ):
            yield f"label key '{key}' is not valid"
        if not isinstance(value, str) or not naming.LABEL_VALUE.match(value) or len(value) > 63:
            yield f"label value '{value}' of '{key}' is not valid"


def _selector(selector: Mapping[str, Any], labels: Mapping[str, str]) -> Iterator[str]:
    match = selector.get("matchLabels") or {}
    if not match:
        yield "the selector is empty"
    for key, value in match.items():
        if labels.get(key) != value:
            yield f"the selector's {key}={value} is not a label of the pod template"


def _quantities(values: Mapping[str, Any]) -> Iterator[str]:
    for key, value in values.items():
        if not QUANTITY.match(str(value)):
            yield f"'{value}' ({key}) is not a quantity"


def _pod(
    kind: str, spec: Mapping[str, Any], secrets: set[str], claims: set[str], owner: Mapping[str, Any]
) -> Iterator[str]:
    restart = spec.get("restartPolicy", "Always")
    if restart not in RESTART_POLICIES.get(kind, {"Always"}):
        yield f"restartPolicy '{restart}' is not allowed in a {kind}"
    volumes = {v.get("name"): v for v in spec.get("volumes") or ()}
    templates = {(t.get("metadata") or {}).get("name") for t in owner.get("volumeClaimTemplates") or ()}
    if len(volumes) != len(spec.get("volumes") or ()):
        yield "two volumes have one name"
    for volume in volumes.values():
        if not naming.DNS_LABEL.match(str(volume.get("name"))):
            yield f"volume name '{volume.get('name')}' is not a DNS-1123 label"
        if "emptyDir" in volume:
            yield from _quantities({k: v for k, v in volume["emptyDir"].items() if k == "sizeLimit"})
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim is not None and claim not in claims:
            yield f"volume '{volume['name']}' names the claim '{claim}', which is not exported"
        secret = (volume.get("secret") or {}).get("secretName")
        if secret is not None and secret not in secrets:
            yield f"volume '{volume['name']}' names the Secret '{secret}', which is not exported"
    names: set[str] = set()
    for container in [*spec.get("initContainers", ()), *spec.get("containers", ())]:
        cname = str(container.get("name"))
        if not naming.DNS_LABEL.match(cname) or cname in names:
            yield f"container name '{cname}' is not a DNS-1123 label or is used twice"
        names.add(cname)
        for mount in container.get("volumeMounts") or ():
            if mount.get("name") not in volumes and mount.get("name") not in templates:
                yield f"container '{cname}' mounts '{mount.get('name')}', which is no volume of the pod"
        resources = container.get("resources") or {}
        yield from _quantities({**(resources.get("requests") or {}), **(resources.get("limits") or {})})
        env_names = [e.get("name") for e in container.get("env") or ()]
        if len(set(env_names)) != len(env_names):
            yield f"container '{cname}' sets a variable twice"
        for env in container.get("env") or ():
            if not naming.env_name_ok(str(env.get("name"))):
                yield f"container '{cname}': '{env.get('name')}' is not a valid variable name"
            ref = ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
            if ref is not None and ref not in secrets:
                yield f"container '{cname}' reads the Secret '{ref}', which is not exported"
        for source in container.get("envFrom") or ():
            ref = (source.get("secretRef") or {}).get("name")
            if ref is not None and ref not in secrets:
                yield f"container '{cname}' reads the Secret '{ref}', which is not exported"
        for port in container.get("ports") or ():
            if "name" in port and (len(port["name"]) > 15 or not PORT_NAME.match(port["name"])):
                yield f"port name '{port['name']}' is not a valid port name"


def _schedule(schedule: str) -> Iterator[str]:
    fields = schedule.split()
    if len(fields) != 5:
        yield f"schedule '{schedule}' does not have 5 fields"
        return
    if "h" in schedule.lower().replace("thu", ""):
        yield f"schedule '{schedule}' uses H, which Kubernetes rejects"
        return
    for index, (field, (low, high)) in enumerate(zip(fields, _FIELD_RANGES, strict=True)):
        if not _field_ok(field.lower(), low, high, index):
            yield f"schedule '{schedule}': '{field}' is not a valid field for Kubernetes"


def _field_ok(field: str, low: int, high: int, index: int) -> bool:
    names = _MONTHS if index == 3 else _DAYS if index == 4 else []

    def value(text: str) -> int | None:
        if text in names:
            return names.index(text) + (1 if index == 3 else 0)
        return int(text) if text.isdigit() else None

    for part in field.split(","):
        body, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            return False
        if body in ("*", "?"):
            continue
        start, _, end = body.partition("-")
        values = [value(start)] + ([value(end)] if end else [])
        if any(v is None or not low <= v <= high for v in values):
            return False
    return True


def _zone_ok(zone: str) -> bool:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _service(spec: Mapping[str, Any], objects: list[dict[str, Any]]) -> Iterator[str]:
    if spec.get("type") == "ExternalName":
        if not naming.DNS_SUBDOMAIN.match(str(spec.get("externalName", ""))):
            yield f"externalName '{spec.get('externalName')}' is not a host name"
        return
    selector = spec.get("selector") or {}
    selected = [t for t in pod_templates(objects) if all(t.labels.get(k) == v for k, v in selector.items())]
    if not selector or not selected:
        yield "the selector selects no exported pod"
    for port in spec.get("ports") or ():
        target = port.get("targetPort")
        if isinstance(target, str) and any(t.port_number(target) is None for t in selected):
            yield f"targetPort '{target}' is no container port of the selected pods"


def _policy(spec: Mapping[str, Any]) -> Iterator[str]:
    types = spec.get("policyTypes") or []
    for value in types:
        if value not in POLICY_TYPES:
            yield f"policyType '{value}' is neither Ingress nor Egress"
    if spec.get("ingress") and "Ingress" not in types:
        yield "ingress rules without the Ingress policy type"
    if spec.get("egress") and "Egress" not in types:
        yield "egress rules without the Egress policy type"
    if "podSelector" not in spec:
        yield "no podSelector"


def _ingress(spec: Mapping[str, Any], objects: list[dict[str, Any]]) -> Iterator[str]:
    services = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Service"}
    for rule in spec.get("rules") or ():
        for path in (rule.get("http") or {}).get("paths") or ():
            if not str(path.get("path", "")).startswith("/"):
                yield f"path '{path.get('path')}' does not start with /"
            backend = (path.get("backend") or {}).get("service") or {}
            target = services.get(backend.get("name"))
            if target is None:
                yield f"backend Service '{backend.get('name')}' is not exported"
                continue
            port = (backend.get("port") or {}).get("name")
            if port is not None and port not in {p.get("name") for p in target["spec"].get("ports") or ()}:
                yield f"backend port '{port}' is no port of Service '{backend.get('name')}'"
