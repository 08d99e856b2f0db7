"""The legacy Platform.sh files and the Upsun file for the same app resolve to the same plan.

Each folder tests/data/golden/legacy/<case>/<variant>/ is a Platform.sh project (one or more
`.platform.app.yaml`, or `.platform/applications.yaml`, with `.platform/services.yaml` and
`.platform/routes.yaml`) meaning the same as the golden case <case>, written in .upsun/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sunup.plan.model import ProjectPlan
from tests.plan import golden

LEGACY = golden.GOLDEN / "legacy"

#: Twins whose app bodies are the same text as the Upsun file's: the plans are equal whole,
#: PLATFORM_APPLICATION (the app's configuration as written) included.
VERBATIM = {
    "seed-workers/app-file",
    "seed-workers/applications-list",
    "worker-overrides/app-file",
}
#: Twins written in the legacy idioms (`shared` mounts, 'service:endpoint', `disk`, app folders
#: as source roots...): equal except PLATFORM_APPLICATION, which carries the text as written.
IDIOMATIC = {
    "seed-workers/platform-idioms",
    "multi-app/app-files",
    "multi-app/applications-map",
}
TWINS = sorted(VERBATIM | IDIOMATIC)


def _plan_json(plan: ProjectPlan, *, keep_application: bool) -> dict[str, Any]:
    data = plan.to_json()
    del data["format"]
    if not keep_application:
        for app in data["apps"].values():
            for group in app["groups"].values():
                del group["environment"]["PLATFORM_APPLICATION"]
    return data


def _diff(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """The key paths where two JSON documents differ, for a readable failure."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [
            p for key in sorted(set(ours) | set(theirs)) for p in _diff(ours.get(key), theirs.get(key), f"{path}.{key}")
        ]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


@pytest.mark.parametrize("twin", TWINS)
def test_legacy_twin_resolves_to_the_upsun_plan(twin: str) -> None:
    """The Platform.sh files of the twin resolve to the plan of the Upsun golden case (format aside)."""
    case_name, _, _ = twin.partition("/")
    legacy_plan = golden.resolve(LEGACY / twin)
    upsun_plan = golden.resolve(golden.case(case_name).project)
    assert legacy_plan.format == "platform" and upsun_plan.format == "upsun"
    keep = twin in VERBATIM
    ours, theirs = _plan_json(legacy_plan, keep_application=keep), _plan_json(upsun_plan, keep_application=keep)
    assert ours == theirs, f"{twin} differs from {case_name}:\n  " + "\n  ".join(_diff(ours, theirs))


@pytest.mark.parametrize("twin", TWINS)
def test_legacy_twin_keeps_the_group_order(twin: str) -> None:
    """Web comes first, then the workers in the order the files list them, as in the Upsun case."""
    case_name, _, _ = twin.partition("/")
    legacy_plan = golden.resolve(LEGACY / twin)
    upsun_plan = golden.resolve(golden.case(case_name).project)
    assert [(a.name, [g.name for g in a.groups]) for a in legacy_plan.apps] == [
        (a.name, [g.name for g in a.groups]) for a in upsun_plan.apps
    ]


def test_every_twin_folder_is_compared() -> None:
    """Each folder under tests/data/golden/legacy/ is listed above, so none is silently skipped."""
    folders = {f"{p.parent.name}/{p.name}" for p in LEGACY.glob("*/*") if p.is_dir()}
    assert folders == set(TWINS)


def test_legacy_app_file_in_a_subfolder_takes_it_as_source_root() -> None:
    """A `.platform.app.yaml` in a sub-folder gets that folder as its source root (spec §1)."""
    plan = golden.resolve(LEGACY / "multi-app" / "app-files")
    assert {a.name: a.source_root for a in plan.apps} == {"backend": "backend", "frontend": "frontend"}


def test_a_difference_in_meaning_is_not_equivalent(tmp_path: Path) -> None:
    """The comparison has teeth: the seed's app file with mail given MySQL no longer matches the Upsun plan."""
    source = LEGACY / "seed-workers" / "app-file"
    for file in (".platform.app.yaml", ".platform/services.yaml", ".platform/routes.yaml"):
        target = tmp_path / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((source / file).read_text())
    app_file = tmp_path / ".platform.app.yaml"
    app_file.write_text(
        app_file.read_text().replace(
            "    relationships:\n      rabbitmq:\n", "    relationships:\n      rabbitmq:\n      mysql:\n"
        )
    )
    ours = _plan_json(golden.resolve(tmp_path), keep_application=False)
    theirs = _plan_json(golden.resolve(golden.case("seed-workers").project), keep_application=False)
    assert _diff(ours, theirs) == [
        ".apps.app.groups.mail.relationships.mysql: {'name': 'mysql', 'service': 'mysql', 'endpoint': 'mysql'} != None"
    ]
