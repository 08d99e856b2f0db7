"""`sunup export kubernetes` as a user runs it: a real process, YAML out, warnings on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from sunup.errors import EXIT_OK
from tests.conftest import REPO, copy_project
from tests.export.kube import SEED


def sunup(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sunup", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
        check=False,
    )


def test_stdout_is_a_stable_yaml_stream(tmp_path: Path) -> None:
    """Without -o: every object as a YAML document on stdout, the same twice; warnings on stderr."""
    project = copy_project(SEED, tmp_path / "seed")
    first = sunup(
        "export", "kubernetes", "--namespace", "shop", "--image", "registry.example/{app}:{tree}", cwd=project
    )
    assert first.returncode == EXIT_OK, first.stderr
    documents = [d for d in yaml.safe_load_all(first.stdout) if d]
    kinds = [d["kind"] for d in documents]
    assert kinds.count("Deployment") == 3 and "StatefulSet" in kinds
    assert all(d["metadata"]["namespace"] == "shop" for d in documents)
    image = next(d for d in documents if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    assert image.startswith("registry.example/app:") and len(image.rsplit(":", 1)[1]) == 40
    assert "warning: " in first.stderr and "# warning: " in first.stdout
    assert (
        sunup(
            "export", "kubernetes", "--namespace", "shop", "--image", "registry.example/{app}:{tree}", cwd=project
        ).stdout
        == first.stdout
    )


def test_output_folder_has_one_file_per_object(tmp_path: Path) -> None:
    """-o DIR: one file per object numbered in apply order; files of an older export are replaced."""
    project = copy_project(SEED, tmp_path / "seed")
    out = tmp_path / "k8s"
    out.mkdir()
    (out / "999-deployment-stale.yaml").write_text(
        "# Written by `sunup export kubernetes`: edit the configuration and export again.\n"
    )
    (out / "mine.yaml").write_text("kind: Keep\n")
    result = sunup("export", "kubernetes", "-o", str(out), "--services", "external", cwd=project)
    assert result.returncode == EXIT_OK, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "999-deployment-stale.yaml" not in names and "mine.yaml" in names
    assert names[0] == "001-networkpolicy-sunup-default-deny.yaml"
    kinds = [yaml.safe_load((out / n).read_text())["kind"] for n in names if n != "mine.yaml"]
    assert "StatefulSet" not in kinds and kinds.count("Deployment") == 3
    assert result.stdout == ""


def test_config_error_is_the_validate_diagnostic(tmp_path: Path) -> None:
    """A configuration with errors: the same diagnostics and exit status as `sunup validate`, no YAML."""
    project = copy_project(SEED, tmp_path / "seed")
    config = project / ".upsun" / "config.yaml"
    config.write_text(config.read_text().replace("    workers:\n", "    workerz:\n"))
    exported = sunup("export", "kubernetes", cwd=project)
    validated = sunup("validate", cwd=project)
    assert exported.returncode == validated.returncode != 0
    assert exported.stderr == validated.stderr
    assert exported.stdout == ""


def test_bad_namespace_is_a_usage_error(tmp_path: Path) -> None:
    """--namespace must be a DNS-1123 label: a usage error (2) naming the option."""
    project = copy_project(SEED, tmp_path / "seed")
    result = sunup("export", "kubernetes", "--namespace", "My_NS", cwd=project)
    assert result.returncode == 2 and "--namespace" in result.stderr
