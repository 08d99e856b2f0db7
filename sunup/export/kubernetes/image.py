"""The image of an app: a build context whose Containerfile builds it as `sunup up` does.

One image per app build, named by its tree id (`sunup/<app>:<tree>`, never ``:latest``). The
context holds what the build needs, and nothing of the machine it was written on:

    <DIR>/<app>/
     ├── Containerfile   base of `type:`; sunup installed; the app at /app; `sunup image-build`
     ├── sunup/          sunup's own source (no registry serves it) and a pyproject.toml
     ├── project/        the project's configuration files (run-instance reads the plan there)
     └── app/            the app's files, exactly those the local build copies (same tree id)

`sunup image-build` (`sunup.container.imagebuild`) runs the local build's steps in /app: the
toolchain of `type:`, `dependencies`, the build hook, with the build environment of spec §6.
sunup runs on Debian's Python 3 (bookworm: 3.11), installed beside the app's runtime.

`containerfile` is pure (golden-tested); `write_contexts` copies the files.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from dataclasses import dataclass
from pathlib import Path

from sunup.build.builder import build_config
from sunup.build.toolchain import RUNTIME_BINARIES, runtimes_of
from sunup.build.tree import source_files, tree_id
from sunup.export.kubernetes import APP_DIR, DEFAULT_IMAGE, RUN_AS_USER, RUN_INSTANCE
from sunup.plan.model import AppPlan, ProjectPlan

#: Base images by runtime (Debian bookworm variants, so that apt-get works in every one).
BASES = {
    "python": "docker.io/library/python:{version}-slim-bookworm",
    "nodejs": "docker.io/library/node:{version}-bookworm-slim",
    "php": "docker.io/library/php:{version}-cli-bookworm",
    "ruby": "docker.io/library/ruby:{version}-slim-bookworm",
    "golang": "docker.io/library/golang:{version}-bookworm",
}
DEFAULT_BASE = "docker.io/library/debian:bookworm-slim"
#: Where sunup and the image's build live in the image.
SUNUP_VENV = "/opt/sunup/venv"
PROJECT_DIR = "/srv/project"
#: Files of a project that hold its configuration (copied to project/).
CONFIG_FILES = (".upsun", ".platform", ".platform.app.yaml")


@dataclass(frozen=True, slots=True)
class ImageContext:
    app: str
    tree_id: str
    image: str
    folder: Path


def app_tree_id(app: AppPlan, project_root: Path) -> str:
    """The tree id of `app`'s build: what names its image (the same digest as `sunup up`'s)."""
    source = project_root / app.source_root
    variables = {k: dict(v) for k, v in app.web.variables.items()}
    return tree_id(source, source_files(source), build_config(app, variables))


def base_image(app: AppPlan) -> str:
    """The base image of `app`'s `type:`: the runtime's official image, else Debian."""
    template = BASES.get(app.runtime)
    if template is None or not app.version:
        return DEFAULT_BASE
    return template.format(version=app.version)


def system_packages(app: AppPlan) -> list[str]:
    """Debian packages the image needs: Python 3 for sunup, nginx for the web pods'
    `web.locations` (`sunup.container.webserver`), and the runtimes its base lacks (a composable
    stack, or a runtime without an official image here)."""
    packages = {"python3", "python3-venv", "ca-certificates", "nginx-light"}
    if not (app.runtime in BASES and app.version):
        for runtime, _version in runtimes_of(app):
            named = RUNTIME_BINARIES.get(runtime, (runtime, runtime))[1]
            if "(" not in named:  # "dotnet-sdk (from Microsoft's repository)": not Debian's
                packages.update(named.split())
    return sorted(packages)


def containerfile(app: AppPlan, tree: str, image: str, *, base: str | None = None) -> str:
    """The Containerfile of `app`'s image (pure: the same plan and tree give the same text)."""
    packages = " ".join(system_packages(app))
    command = ", ".join(f'"{word}"' for word in RUN_INSTANCE)
    lines = [
        f"# The image of '{app.name}' ({app.type}), tree {tree}, written by `sunup export image-context`.",
        f"#   podman build -t {image} .",
        "# Its containers run `sunup run-instance --app APP --group GROUP` (docs/kubernetes.md).",
        f"FROM {base or base_image(app)}",
        "",
        "# sunup itself runs on Debian's Python 3, beside the app's runtime; nginx serves web.locations.",
        "RUN apt-get update \\",
        f" && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\",
        " && rm -rf /var/lib/apt/lists/*",
        "COPY sunup /opt/sunup/src",
        f"RUN /usr/bin/python3 -m venv {SUNUP_VENV} \\",
        f" && {SUNUP_VENV}/bin/pip install --no-cache-dir /opt/sunup/src \\",
        f" && ln -s {SUNUP_VENV}/bin/sunup /usr/local/bin/sunup",
        "",
        "# The configuration (the plan is read from it), and the app's files where Upsun has them.",
        f"COPY project {PROJECT_DIR}",
        f"COPY app {APP_DIR}",
        f"ENV SUNUP_PROJECT={PROJECT_DIR}",
        "",
        "# The build, with the local build's steps: toolchain, dependencies, build hook.",
        f"RUN sunup -C {PROJECT_DIR} image-build --app {app.name} --app-dir {APP_DIR}",
        "",
        f"ENV PLATFORM_TREE_ID={tree}",
        f'LABEL org.opencontainers.image.title="{app.name}" io.sunup.tree-id="{tree}"',
        f"USER {RUN_AS_USER}:{RUN_AS_USER}",
        f"WORKDIR {APP_DIR}",
        f"ENTRYPOINT [{command}]",
        "",
    ]
    return "\n".join(lines)


def sunup_pyproject() -> str:
    """A pyproject.toml that installs this sunup (its runtime dependencies, no extras)."""
    version = importlib.metadata.version("sunup")
    requires = [r for r in importlib.metadata.requires("sunup") or [] if "extra ==" not in r]
    listed = "".join(f'  "{r}",\n' for r in requires)
    return (
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "sunup"\nversion = "{version}"\nrequires-python = ">=3.11"\n'
        f"dependencies = [\n{listed}]\n\n"
        '[project.scripts]\nsunup = "sunup.cli:main"\n\n'
        '[tool.setuptools.packages.find]\ninclude = ["sunup*"]\n'
    )


def write_contexts(
    plan: ProjectPlan, project_root: Path, out: Path, *, base: str | None = None, image: str = DEFAULT_IMAGE
) -> list[ImageContext]:
    """Write one build context per app under `out` (each folder replaced whole)."""
    import sunup

    made = []
    package = Path(sunup.__file__).parent
    for app in plan.apps:
        tree = app_tree_id(app, project_root)
        name = image.replace("{app}", app.name).replace("{tree}", tree)
        folder = out / app.name
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "sunup").mkdir(parents=True)
        shutil.copytree(package, folder / "sunup" / "sunup", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (folder / "sunup" / "pyproject.toml").write_text(sunup_pyproject(), encoding="utf-8")
        _copy_config(project_root, folder / "project")
        source = project_root / app.source_root
        _copy_files(source, source_files(source), folder / "app")
        (folder / "Containerfile").write_text(containerfile(app, tree, name, base=base), encoding="utf-8")
        made.append(ImageContext(app.name, tree, name, folder))
    return made


def _copy_config(project_root: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for name in CONFIG_FILES:
        origin = project_root / name
        if origin.is_dir():
            shutil.copytree(origin, target / name, symlinks=True)
        elif origin.is_file():
            shutil.copy2(origin, target / name)


def _copy_files(source: Path, files: list[Path], target: Path) -> None:
    target.mkdir(parents=True)
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        origin = source / relative
        if origin.is_symlink():
            destination.symlink_to(origin.readlink())
        else:
            shutil.copy2(origin, destination)
