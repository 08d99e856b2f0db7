"""The semantic checker catches what strict schemas let through (kubernetes.md's list)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from sunup.export.kubernetes.checks import check_objects
from tests.export.kube import SEED, export_of

Objects = list[dict[str, Any]]


def _deployment(objects: Objects) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment")


def _restart_never(objects: Objects) -> None:
    _deployment(objects)["spec"]["template"]["spec"]["restartPolicy"] = "Never"


def _bad_quantity(objects: Objects) -> None:
    _deployment(objects)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "8GB"


def _bad_name(objects: Objects) -> None:
    _deployment(objects)["metadata"]["name"] = "MyApp_Web"


def _selector(objects: Objects) -> None:
    _deployment(objects)["spec"]["selector"]["matchLabels"]["sunup.dev/group"] = "other"


def _mount(objects: Objects) -> None:
    _deployment(objects)["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "nowhere", "mountPath": "/x"}
    )


def _policy_type(objects: Objects) -> None:
    next(o for o in objects if o["kind"] == "NetworkPolicy")["spec"]["policyTypes"] = ["Inbound"]


def _secret_ref(objects: Objects) -> None:
    objects[:] = [o for o in objects if o["metadata"]["name"] != "app-mail-relationships"]


def _cron(objects: Objects, schedule: str = "H 3 * * *", name: str = "app-cron-x") -> None:
    job = copy.deepcopy(next(o for o in export_of(SEED).objects if o["kind"] == "Deployment"))
    template = job["spec"]["template"]
    template["spec"]["restartPolicy"] = "Never"
    objects.append(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": template}}},
        }
    )


def _service_digit(objects: Objects) -> None:
    next(o for o in objects if o["kind"] == "Service")["metadata"]["name"] = "9mysql"


def _secret_key(objects: Objects) -> None:
    next(o for o in objects if o["kind"] == "Secret")["stringData"]["bad key"] = "x"


CASES: dict[str, tuple[Callable[[Objects], None], str]] = {
    "Service name starting with a digit": (_service_digit, "DNS-1035"),
    "Secret key with a space": (_secret_key, "is not a valid Secret key"),
    "restartPolicy Never in a Deployment": (_restart_never, "restartPolicy 'Never' is not allowed"),
    "8GB": (_bad_quantity, "'8GB' (memory) is not a quantity"),
    "MyApp_Web": (_bad_name, "is not a DNS-1123 label"),
    "selector": (_selector, "is not a label of the pod template"),
    "volumeMount without volume": (_mount, "which is no volume of the pod"),
    "policyTypes Inbound": (_policy_type, "policyType 'Inbound'"),
    "missing Secret": (_secret_ref, "reads the Secret 'app-mail-relationships'"),
    "H in a schedule": (_cron, "uses H"),
    "long CronJob name": (lambda o: _cron(o, "5 3 * * *", "c" * 53), "at most 52 characters"),
    "L in a schedule": (lambda o: _cron(o, "0 3 L * *"), "not a valid field"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_checker_finds(case: str) -> None:
    """Each broken rule is reported; the unbroken export has no problem."""
    objects = [copy.deepcopy(o) for o in export_of(SEED).objects]
    assert check_objects(objects) == []
    change, expected = CASES[case]
    change(objects)
    problems = check_objects(objects)
    assert any(expected in p for p in problems), problems
