"""Choosing apps and instance groups the way the Upsun CLI does (`-A app`, `--web`, `--worker`)."""

from __future__ import annotations

from typing import Any

import pytest

from sunup.errors import EXIT_USAGE, SelectionError
from sunup.plan.model import ProjectPlan
from sunup.plan.selection import select_app, select_groups
from tests.plan import golden


@pytest.fixture(scope="module")
def seed() -> ProjectPlan:
    """One app (`app`) with workers queue and mail."""
    return golden.resolve(golden.case("seed-workers").project)


@pytest.fixture(scope="module")
def multi() -> ProjectPlan:
    """Two apps: backend (workers queue, mail) and frontend (worker queue)."""
    return golden.resolve(golden.case("multi-app").project)


def _names(plan: ProjectPlan, app: str | None = None, **options: Any) -> list[str]:
    return [g.instance_name for g in select_groups(plan, app, **options)]


@pytest.mark.parametrize(
    ("app", "options", "expected"),
    [
        (None, {}, ["app", "app--queue", "app--mail"]),
        ("app", {}, ["app", "app--queue", "app--mail"]),
        (None, {"web": True}, ["app"]),
        ("app", {"web": True}, ["app"]),
        (None, {"worker": "queue"}, ["app--queue"]),
        (None, {"worker": "app--queue"}, ["app--queue"]),
        ("app", {"worker": "mail"}, ["app--mail"]),
        ("app", {"worker": "app--mail"}, ["app--mail"]),
    ],
)
def test_one_app_needs_no_dash_a(
    seed: ProjectPlan, app: str | None, options: dict[str, Any], expected: list[str]
) -> None:
    """With one app, -A is optional and a worker is named `queue` or `app--queue` alike."""
    assert _names(seed, app, **options) == expected


@pytest.mark.parametrize(
    ("app", "options", "expected"),
    [
        (None, {}, ["backend", "backend--queue", "backend--mail", "frontend", "frontend--queue"]),
        ("frontend", {}, ["frontend", "frontend--queue"]),
        ("backend", {"web": True}, ["backend"]),
        ("backend", {"worker": "queue"}, ["backend--queue"]),
        (None, {"worker": "backend--queue"}, ["backend--queue"]),
        (None, {"worker": "frontend--queue"}, ["frontend--queue"]),
        ("frontend", {"worker": "frontend--queue"}, ["frontend--queue"]),
        # A worker name only one app has finds that app without -A.
        (None, {"worker": "mail"}, ["backend--mail"]),
    ],
)
def test_several_apps(multi: ProjectPlan, app: str | None, options: dict[str, Any], expected: list[str]) -> None:
    """With several apps, groups are found by -A, by `app--worker`, or by a worker name only one app has."""
    assert _names(multi, app, **options) == expected


@pytest.mark.parametrize(
    ("case", "app", "options", "message", "hint"),
    [
        (
            "seed-workers",
            None,
            {"worker": "queu"},
            "application 'app' has no worker 'queu'",
            "did you mean 'queue'?",
        ),
        (
            "seed-workers",
            None,
            {"worker": "nosuch"},
            "application 'app' has no worker 'nosuch'",
            "workers: queue, mail",
        ),
        (
            "seed-workers",
            None,
            {"worker": "web"},
            "application 'app' has no worker 'web'",
            "the web instance is not a worker: use --web",
        ),
        ("seed-workers", "ap", {}, "no application 'ap' in the project", "did you mean 'app'?"),
        ("seed-workers", None, {"worker": "api--queue"}, "no application 'api' in the project", "did you mean 'app'?"),
        (
            "multi-app",
            None,
            {"web": True},
            "the project has 2 applications; choose one with -A",
            "applications: backend, frontend",
        ),
        (
            "multi-app",
            None,
            {"worker": "queue"},
            "applications backend, frontend all have a worker 'queue'; choose one with -A",
            "--worker backend--queue, or -A backend --worker queue",
        ),
        (
            "multi-app",
            None,
            {"worker": "mial"},
            "no application has a worker 'mial'",
            "did you mean 'mail'?",
        ),
        (
            "multi-app",
            None,
            {"worker": "cron"},
            "no application has a worker 'cron'",
            "workers: backend--queue, backend--mail, frontend--queue",
        ),
        (
            "multi-app",
            "frontend",
            {"worker": "backend--queue"},
            "--worker backend--queue names app 'backend', but -A says 'frontend'",
            "write --worker queue with -A, or --worker backend--queue alone",
        ),
        (
            "multi-app",
            "frontend",
            {"worker": "mail"},
            "application 'frontend' has no worker 'mail'",
            "workers: queue",
        ),
        (
            "docs-shared-mounts",
            None,
            {"worker": "mail"},
            "application 'frontend' has no worker 'mail'",
            "workers: queue",
        ),
        (
            "environment",
            None,
            {"worker": "queue--x"},
            "no application 'queue' in the project",
            "applications: app",
        ),
    ],
)
def test_errors_say_what_is_wrong_and_hint_at_the_fix(
    case: str, app: str | None, options: dict[str, Any], message: str, hint: str
) -> None:
    """A selection the project cannot satisfy is a usage error (exit 2) with a message and a hint."""
    plan = golden.resolve(golden.case(case).project)
    with pytest.raises(SelectionError) as raised:
        select_groups(plan, app, **options)
    assert (raised.value.message, raised.value.hint) == (message, hint)
    assert raised.value.exit_code == EXIT_USAGE


def test_an_app_without_workers_says_so() -> None:
    """Asking a worker of an app that has none hints that it has none."""
    plan = golden.resolve(golden.case("legacy-mounts").project)
    with pytest.raises(SelectionError) as raised:
        select_groups(plan, worker="queue")
    assert raised.value.hint == "this application has no workers"


def test_select_app_alone(seed: ProjectPlan, multi: ProjectPlan) -> None:
    """select_app returns the only app without -A, the named one with it, and refuses to guess among several."""
    assert select_app(seed, None).name == "app"
    assert select_app(multi, "frontend").name == "frontend"
    with pytest.raises(SelectionError, match="choose one with -A"):
        select_app(multi, None)
