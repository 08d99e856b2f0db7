"""What an image's build leaves for run time: where the app is, its tree id and its toolchain.

`sunup image-build --app APP` (a step of the Containerfile, `sunup.export.kubernetes.context`)
builds the app in `/app` with `sunup.build.builder.build_in_place` and writes
``/opt/sunup/build/<app>.json``; `sunup run-instance` reads it to give the instance the
toolchain's PATH and variables (a Python app's virtual environment first on PATH), as `sunup up`
does with a local build. Outside an image there is no record: the source folder runs as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sunup.atomicfile import write_atomically
from sunup.build.toolchain import Toolchain
from sunup.errors import RuntimeFailure
from sunup.plan.model import frozen_map

#: Where image builds keep their work folders and records (`SUNUP_BUILD_DIR` elsewhere).
BUILD_DIR = Path("/opt/sunup/build")
BUILD_DIR_VARIABLE = "SUNUP_BUILD_DIR"


@dataclass(frozen=True, slots=True)
class BuildRecord:
    app: str
    tree_id: str
    app_dir: Path
    toolchain: Toolchain

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "tree_id": self.tree_id,
            "app_dir": str(self.app_dir),
            "toolchain": {
                "runtime": self.toolchain.runtime,
                "path": list(self.toolchain.path),
                "environment": dict(self.toolchain.environment),
            },
        }


def build_dir(environ: Mapping[str, str]) -> Path:
    """Where the records are: `$SUNUP_BUILD_DIR`, else /opt/sunup/build."""
    raw = environ.get(BUILD_DIR_VARIABLE)
    return Path(raw) if raw else BUILD_DIR


def record_path(folder: Path, app: str) -> Path:
    return folder / f"{app}.json"


def write_record(folder: Path, record: BuildRecord) -> Path:
    path = record_path(folder, record.app)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def read_record(folder: Path, app: str) -> BuildRecord | None:
    """The record of `app`'s image build; None when there is none (not in an image)."""
    path = record_path(folder, app)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        chain = data["toolchain"]
        return BuildRecord(
            app=str(data["app"]),
            tree_id=str(data["tree_id"]),
            app_dir=Path(data["app_dir"]),
            toolchain=Toolchain(
                runtime=str(chain.get("runtime", "")),
                path=tuple(str(p) for p in chain.get("path", [])),
                environment=frozen_map({str(k): str(v) for k, v in dict(chain.get("environment", {})).items()}),
            ),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuntimeFailure(
            f"the build record {path} is damaged ({exc})", hint="build the image again (sunup export image-context)"
        ) from None
