"""Golden cases: each folder of tests/data/golden/ resolves to the plan facts its expected.yaml states."""

from __future__ import annotations

import pytest

from tests.plan import golden

CASES = golden.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_resolves_to_expected_facts(case: golden.Case) -> None:
    """The case's project is valid and its plan has every fact expected.yaml states."""
    if not case.available:
        pytest.skip(f"the shared corpus is not at {golden.CORPUS}")
    plan = golden.resolve(case.project)
    problems = golden.mismatches(case, plan)
    assert not problems, f"{case.name}: the plan differs from expected.yaml:\n  " + "\n  ".join(problems)


SAME_GROUPS = [c for c in CASES if "same_groups_as" in c.expected]


@pytest.mark.parametrize("case", SAME_GROUPS, ids=[c.name for c in SAME_GROUPS])
def test_case_resolves_to_the_same_groups_as_its_twin(case: golden.Case) -> None:
    """Groups that expected.yaml names under same_groups_as resolve identically in both cases."""
    twin = golden.case(case.expected["same_groups_as"]["case"])
    plan, twin_plan = golden.resolve(case.project), golden.resolve(twin.project)
    for ref in case.expected["same_groups_as"]["groups"]:
        ours = golden.comparable_group(golden.group(plan, ref))
        theirs = golden.comparable_group(golden.group(twin_plan, ref))
        assert ours == theirs, f"{ref} differs between {case.name} and {twin.name}"


def test_the_golden_cases_are_all_there() -> None:
    """The cases the foundation issue requires exist, so a renamed folder cannot silently drop one."""
    names = {c.name for c in CASES}
    assert {
        "seed-workers",
        "docs-inheritance-top-level",
        "docs-inheritance-per-worker",
        "docs-shared-mounts",
    } <= names


def test_mismatches_are_reported_with_their_key_path() -> None:
    """A plan that differs from expected.yaml yields one readable line per difference."""
    case = golden.Case(
        "probe",
        golden.GOLDEN,
        {
            "project": "examples/workers",
            "apps": {
                "app": {
                    "groups": {
                        "web": {"environment": {"TYPE": "worker"}},
                        "queue": {"mounts": {}, "relationships": {"mysql": "mysql:mysql"}},
                        "mail": {},
                    }
                }
            },
        },
    )
    problems = golden.mismatches(case, golden.resolve(case.project))
    assert problems == [
        "apps.app.groups.web.environment.TYPE: expected 'worker', got 'web'",
        "apps.app.groups.queue.mounts: expected keys [], got ['scratch']",
        "apps.app.groups.queue.relationships: expected {'mysql': 'mysql:mysql'}, "
        "got {'mysql': 'mysql:mysql', 'rabbitmq': 'rabbitmq:rabbitmq'}",
    ]
