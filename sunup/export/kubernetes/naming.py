"""Kubernetes names from the plan's names: lowercase DNS-1123, shortened with a hash past limits.

An app called ``My_Shop`` with a worker ``queue_worker`` gives ``my-shop-queue-worker``. A name too
long for its field keeps its beginning and ends with 8 hex digits of a digest of the whole name,
so the same plan always gives the same names and two long names stay apart.
"""

from __future__ import annotations

import hashlib
import re

#: Most object names (Services, Secrets, Deployments, ...) are DNS-1123 labels: 63 characters.
LABEL_LIMIT = 63
#: A CronJob's name: its Jobs append 11 characters (``-<minutes>``) and must stay a label.
CRONJOB_LIMIT = 52
#: Label values.
LABEL_VALUE_LIMIT = 63
_DIGEST = 8
_INVALID = re.compile(r"[^a-z0-9-]+")
_INVALID_VALUE = re.compile(r"[^A-Za-z0-9._-]+")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: Service names are DNS-1035 labels: a letter first.
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def digest(text: str, length: int = _DIGEST) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def dns_label(*parts: str, limit: int = LABEL_LIMIT) -> str:
    """`parts` joined by ``-`` as a DNS-1123 label of at most `limit` characters."""
    whole = "-".join(parts)
    name = _INVALID.sub("-", whole.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-") or "x"
    if len(name) <= limit:
        return name
    return f"{name[: limit - _DIGEST - 1].rstrip('-')}-{digest(whole)}"


def service_label(*parts: str) -> str:
    """As `dns_label`, starting with a letter (a Service's name): ``2048-web`` → ``s-2048-web``."""
    name = dns_label(*parts)
    return name if name[0].isalpha() else dns_label("s", *parts)


def label_value(text: str) -> str:
    """`text` as a label value (63 characters of ``[A-Za-z0-9._-]``, alphanumeric at both ends)."""
    value = _INVALID_VALUE.sub("-", text).strip("-_.")
    if value == text and len(value) <= LABEL_VALUE_LIMIT:
        return value
    value = value[: LABEL_VALUE_LIMIT - _DIGEST - 1].strip("-_.")
    return f"{value}-{digest(text)}" if value else digest(text)


def env_name_ok(name: str) -> bool:
    """Whether Kubernetes accepts `name` as an environment variable (C identifiers and more)."""
    return bool(re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", name))
