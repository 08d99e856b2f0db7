"""Routes as Ingresses (spec §10): one per host and path of the `upstream` routes.

Read from the raw `routes` mapping of the plan: keys are URLs with `{default}` (the domain) and
`{all}`, values `{type: upstream, upstream: "app:http"}` or `{type: redirect, to: ...}`. An
`http://` and an `https://` route of the same host and path are one Ingress. Redirects, TLS
certificates and routes Kubernetes cannot express are warned.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from sunup.export.kubernetes import naming, objects
from sunup.export.kubernetes.context import ExportContext
from sunup.plan.model import AppPlan

PLACEHOLDER_DOMAIN = "example.com"
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def ingresses(ctx: ExportContext) -> list[dict[str, Any]]:
    domain = ctx.options.domain
    routes: dict[tuple[str, str], tuple[AppPlan, bool]] = {}
    for url, route in ctx.plan.routes.items():
        if not isinstance(route, dict):
            continue
        kind = route.get("type", "upstream")
        if kind == "redirect":
            ctx.warn(
                f"route {url} redirects to {route.get('to')}: redirects are not exported "
                "(add them to your ingress controller)"
            )
            continue
        if kind != "upstream":
            continue
        if "{default}" in url or "{all}" in url:
            if domain is None:
                ctx.warn(f"routes use {{default}}: {PLACEHOLDER_DOMAIN} stands for it (name the domain with --domain)")
            if "{all}" in url:
                ctx.warn(f"route {url}: {{all}} stands for the one domain named")
        text = url.replace("{default}", domain or PLACEHOLDER_DOMAIN).replace("{all}", domain or PLACEHOLDER_DOMAIN)
        parsed = urllib.parse.urlsplit(text if "://" in text else f"http://{text}")
        host = (parsed.hostname or "").lower()
        app = ctx.plan.app(str(route.get("upstream") or "").partition(":")[0])
        if app is None:
            ctx.warn(f"route {url}: its upstream '{route.get('upstream')}' is no app of the project: not exported")
            continue
        if not _HOST.match(host) or parsed.port is not None:
            ctx.warn(f"route {url}: '{parsed.netloc}' is not a host an Ingress can name: not exported")
            continue
        key = (host, parsed.path or "/")
        tls = parsed.scheme == "https" or (key in routes and routes[key][1])
        routes[key] = (app, tls)
    made = []
    for (host, path), (app, tls) in routes.items():
        rule = {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": ctx.group_name(app.web), "port": {"name": "http"}}},
                    }
                ]
            },
        }
        target = objects.obj(
            "networking.k8s.io/v1",
            "Ingress",
            objects.metadata(
                naming.dns_label("route", host, path), ctx.namespace, {objects.APP_LABEL: naming.label_value(app.name)}
            ),
            spec={"rules": [rule]},
        )
        if tls:
            ctx.warn(
                f"https routes ({host}) need a certificate: add `tls:` to their Ingress "
                "(cert-manager, or a Secret of your own)",
                target,
            )
        made.append(target)
    return made
