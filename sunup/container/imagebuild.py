"""`sunup image-build`: the build step of an app's image, with the local build's steps.

The Containerfile (`sunup.export.kubernetes.context`) copies the app's files to `/app` and runs
``sunup image-build --app APP``: the toolchain of `type:`, `dependencies` and the build hook run
there exactly as `sunup up` runs them (`sunup.build.builder.build_in_place`: `CI` set, no
PLATFORM_ENVIRONMENT, no relationships, no mounts), and the toolchain is recorded for
`sunup run-instance` (`sunup.container.record`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sunup.container.record import BuildRecord, build_dir, write_record
from sunup.errors import SelectionError


def build_image_app(
    project_dir: Path,
    app_name: str,
    app_dir: Path,
    *,
    environ: Mapping[str, str],
    progress: Callable[[str], None],
) -> BuildRecord:
    """Build `app_name` in `app_dir` and write its record; raises BuildFailure when it fails."""
    from sunup.build.builder import build_in_place
    from sunup.container.entrypoint import load

    plan = load(project_dir, environ)
    app = plan.app(app_name)
    if app is None:
        raise SelectionError(
            f"the project has no application '{app_name}'",
            hint=f"its applications: {', '.join(a.name for a in plan.apps)}",
        )
    folder = build_dir(environ)
    work = folder / app.name
    tree, toolchain = build_in_place(
        app,
        app_dir=app_dir,
        work_dir=work,
        log_path=work / "build.log",
        variables={k: dict(v) for k, v in app.web.variables.items()},
        project=app.web.environment.get("PLATFORM_PROJECT", ""),
        progress=progress,
    )
    record = BuildRecord(app.name, tree, app_dir, toolchain)
    write_record(folder, record)
    return record
