"""Reading the legacy Platform.sh files onto the Upsun model (spec §1).

- every `.platform.app.yaml` (one app each, named by its `name:` key; its folder is the app's
  source root unless `source.root` says otherwise);
- `.platform/applications.yaml`: a list of apps with `name`, or a mapping keyed by name;
- `.platform/services.yaml` and `.platform/routes.yaml`.

The mapped data has the Upsun shape; keys only the legacy format has (`size`, `disk`,
`resources`) stay and are read as sizing hints. Mount sources `local` and `shared` are mapped
during resolution (`instance` and `storage`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sunup.config.diagnostics import Mark
from sunup.config.yamlfile import DataPath, YamlReader

if TYPE_CHECKING:
    from sunup.config.loader import LoadedConfig


def read_platform(reader: YamlReader, root: Path, loaded: LoadedConfig, *, skip_dirs: frozenset[str]) -> None:
    from sunup.config.loader import LEGACY_DIR, walk_legacy_app_files

    positions, diagnostics = loaded.positions, loaded.diagnostics
    apps: dict[str, Any] = {}
    loaded.data["applications"] = apps

    def add_app(data: Any, staging: DataPath, name_of_file: str, folder: str) -> None:
        if not isinstance(data, dict):
            diagnostics.error(
                "wrong-type",
                "an application must be a mapping of its keys (type, web, hooks, ...)",
                positions.value(staging) or Mark(name_of_file, 1, 1),
            )
            positions.drop(staging)
            return
        name = data.get("name")
        if not isinstance(name, str) or not name:
            diagnostics.error(
                "missing-key",
                "a Platform.sh application needs a `name:` key",
                positions.value(staging) or Mark(name_of_file, 1, 1),
                hint="add `name: app` at the top of the file",
            )
            positions.drop(staging)
            return
        if name in apps:
            first = positions.keys.get(("applications", name))
            diagnostics.error(
                "duplicate-app",
                f"application '{name}' is defined twice",
                positions.key(staging + ("name",)),
                path=f"applications.{name}",
                hint=f"the first definition is at {first}" if first else None,
                related=first,
            )
            positions.drop(staging)
            return
        data = dict(data)
        del data["name"]
        apps[name] = data
        loaded.app_dirs[name] = folder
        positions.rebase(staging, ("applications", name))
        positions.keys[("applications", name)] = positions.key(("applications", name, "name")) or Mark(
            name_of_file, 1, 1
        )

    for index, file in enumerate(walk_legacy_app_files(root, skip_dirs)):
        display = reader.display_name(file)
        loaded.files.append(display)
        staging: DataPath = ("#app", index)
        errors_before = len(diagnostics.errors)
        data = reader.read_file(file, staging)
        if data is None:
            if len(diagnostics.errors) == errors_before:  # empty, not unreadable: say so
                diagnostics.error(
                    "missing-key",
                    f"{display} is empty: a Platform.sh application needs at least `name:` and `type:`",
                    Mark(display, 1, 1),
                )
            positions.drop(staging)
            continue
        folder = "" if file.parent == root else str(file.parent.relative_to(root))
        if isinstance(data, dict) and folder and "source" not in data:
            data = {**data, "source": {"root": folder}}
        add_app(data, staging, display, folder)

    platform = root / LEGACY_DIR
    applications = platform / "applications.yaml"
    if applications.is_file():
        display = reader.display_name(applications)
        loaded.files.append(display)
        data = reader.read_file(applications, ("#apps",))
        if isinstance(data, list):
            for index, item in enumerate(data):
                add_app(item, ("#apps", index), display, "")
        elif isinstance(data, dict):
            for key, entry in data.items():
                named = entry
                if isinstance(entry, dict) and "name" not in entry:
                    named = {"name": key, **entry}
                    positions.keys[("#apps", key, "name")] = positions.keys[("#apps", key)]
                add_app(named, ("#apps", key), display, "")
        elif data is not None:
            diagnostics.error(
                "wrong-type",
                "applications.yaml must be a list of applications (or a mapping keyed by name)",
                positions.value(("#apps",)) or Mark(display, 1, 1),
            )
        positions.drop(("#apps",))

    for section in ("services", "routes"):
        file = platform / f"{section}.yaml"
        if not file.is_file():
            continue
        display = reader.display_name(file)
        loaded.files.append(display)
        data = reader.read_file(file, (section,))
        if data is not None:
            loaded.data[section] = data

    if not apps and not diagnostics.has_errors():
        diagnostics.error(
            "no-config",
            "no application found: no .upsun/ folder, no .platform.app.yaml, no .platform/applications.yaml",
            Mark(".", 1, 1),
        )
