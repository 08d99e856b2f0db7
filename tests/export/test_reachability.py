"""The NetworkPolicy evaluator itself: both sides must allow, selectors and ports as Kubernetes reads them."""

from __future__ import annotations

from sunup.export.kubernetes.reachability import service_reachability
from tests.export.kube import SEED, export_of


def test_without_policies_everyone_reaches_everything() -> None:
    """No NetworkPolicy: every group may open every service (the evaluator does not invent denials)."""
    objects = tuple(o for o in export_of(SEED).objects if o["kind"] != "NetworkPolicy")
    reached = service_reachability(objects)
    assert reached[("app", "mail", "instance")] == {"mysql", "rabbitmq"}


def test_ingress_alone_keeps_mail_out() -> None:
    """With only the services' ingress policies (no egress rule anywhere), MySQL's keeps mail out."""
    services = ("mysql-ingress", "rabbitmq-ingress")
    objects = tuple(
        o for o in export_of(SEED).objects if o["kind"] != "NetworkPolicy" or o["metadata"]["name"] in services
    )
    assert service_reachability(objects)[("app", "mail", "instance")] == {"rabbitmq"}


def test_ip_blocks_count_as_pods() -> None:
    """Without MySQL's ingress rule, mail's egress to the outside world (an ipBlock, which some
    network plugins match against pod addresses) lets it reach MySQL: the evaluation is an upper bound."""
    objects = tuple(
        o for o in export_of(SEED).objects if o["metadata"]["name"] not in ("mysql-ingress", "sunup-default-deny")
    )
    assert service_reachability(objects)[("app", "mail", "instance")] == {"mysql", "rabbitmq"}
