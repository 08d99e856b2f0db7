"""Every real configuration of the shared corpus is read as the platform reads it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.plan.resolve import HostFacts, resolve_project
from tests.conftest import CORPUS

#: Projects of the corpus that are not valid as copied, with the reason (checked by the test).
KNOWN_INVALID: dict[str, tuple[str, str]] = {
    "upsun__snippets/examples/forem": (
        "unknown-key",
        "bad indentation puts `web:` under `mounts:` (listed as invalid by the corpus itself)",
    ),
    "platformsh-templates__template-config-templates": (
        "bad-name",
        "a template with placeholders such as `<app-name>` and `<db-service>`",
    ),
    "platformsh__template-builder/archived/mautic2/files": (
        "unknown-key",
        "an archived template with a `cron:` key, which the platform does not know (it is `crons:`)",
    ),
    "BenMoloney3000__eligibility-tool": (
        "unknown-service",
        "relationships to services, but the repository has no .platform/services.yaml",
    ),
    "Puzzleheaded-Log__Django_Project": (
        "unknown-service",
        "a relationship to service `db`, but the repository has no .platform/services.yaml",
    ),
    "platformsh__template-builder/templates/magento2ce/files": (
        "unknown-service",
        "relationships to `magento_*` services and a route to `app`; services.yaml defines db, cache, indexer",
    ),
    "platformsh__template-builder/templates/gatsby-drupal/files": (
        "mount-service",
        "`source: service` mounts of service `files`, which services.yaml does not define",
    ),
    "platformsh-templates__akeneo": (
        "mount-nested",
        "a `service` mount inside `local` mounts (spec section 4: a mount inside a mount of another type)",
    ),
    "platformsh__template-builder/templates/akeneo/files": (
        "mount-nested",
        "a `service` mount inside `local` mounts (spec section 4: a mount inside a mount of another type)",
    ),
    "Berdir__platformsh-examples": (
        "missing-version",
        "`type: php` and `type: mysql` without a version, from Platform.sh's early days; the platform "
        "now requires `type:version` (docs: add-services, the `type` key)",
    ),
    "platformsh__example-ruby-sinatra-all-the-services": (
        "missing-version",
        "`type: elasticsearch` without a version, beside versioned services; the platform requires `type:version`",
    ),
    "platformsh__cli/internal/convert/testdata/platformsh": (
        "unknown-service",
        "a converter's test data: relationships to services (drupaldb, cache, search_solr) defined nowhere",
    ),
}


def _project_roots() -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(CORPUS):
        path = Path(folder)
        if ".upsun" in dirs or ".platform" in dirs or ".platform.app.yaml" in files:
            found.append(path)
    return sorted(r for r in found if not any(o != r and o in r.parents for o in found))


def _cases() -> list[tuple[str, Path, str | None]]:
    cases: list[tuple[str, Path, str | None]] = []
    for root in _project_roots():
        name = str(root.relative_to(CORPUS))
        has_upsun = (root / ".upsun").is_dir()
        has_platform = (root / ".platform").is_dir() or (root / ".platform.app.yaml").is_file()
        if has_upsun and has_platform:
            cases += [(f"{name}#upsun", root, "upsun"), (f"{name}#platform", root, "platform")]
        else:
            cases.append((name, root, None))
    return cases


CASES = _cases() if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")
@pytest.mark.parametrize(("name", "root", "prefer"), CASES, ids=[c[0] for c in CASES])
def test_corpus_project_is_accepted_and_resolves(name: str, root: Path, prefer: str | None) -> None:
    """A valid corpus project reads without errors and resolves; a known-invalid one fails for its reason."""
    loaded = read_config(root, prefer=prefer)
    errors = loaded.diagnostics.errors
    expected = KNOWN_INVALID.get(name) or KNOWN_INVALID.get(name.split("#", maxsplit=1)[0])
    if expected is not None:
        code, reason = expected
        assert any(e.code == code for e in errors), f"{name} should fail with {code} ({reason})"
        assert all(e.mark is not None for e in errors), "every error names its file and line"
        return
    assert not errors, "\n".join(f"{e.mark}: {e.code}: {e.message}" for e in errors)
    plan = resolve_project(loaded, HostFacts.for_project(root))
    assert plan.apps, f"{name} resolves to no application"
    for app in plan.apps:
        assert app.web.is_web and all(not w.is_web for w in app.workers)
        for group in app.groups:
            assert group.environment["PLATFORM_APPLICATION_NAME"] == group.instance_name


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")
def test_corpus_is_large_enough() -> None:
    """The corpus walk finds the projects it is meant to (a guard against a broken walk)."""
    assert len(CASES) >= 150
    assert sum(1 for c in CASES if c[0].split("#")[0] in KNOWN_INVALID) == len(
        [c for c in CASES if c[0] in KNOWN_INVALID or c[0].split("#")[0] in KNOWN_INVALID]
    )
