"""The toolchain of `type:`: interpreters found where people install them (pyenv, uv, nvm, the
system's folders), used for the build and the instances, and named in the build log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.build import toolchain
from sunup.build.builder import build_app
from sunup.build.toolchain import Places, choose_python, find_node, find_python
from sunup.config import read_config
from sunup.plan.resolve import HostFacts, resolve_project

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def _fake(path: Path, says: str, status: int = 0) -> Path:
    """An executable at `path` that prints `says` (whatever its arguments) and exits `status`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{says}'\nexit {status}\n")
    path.chmod(0o755)
    return path


def test_pyenv_newest_patch_release_is_chosen(tmp_path: Path) -> None:
    """Among pyenv's 3.10.2, 3.10.13 and 3.9.18, `python:3.10` gets 3.10.13's python3.10."""
    root = tmp_path / "pyenv"
    for name in ("3.10.2", "3.10.13", "3.9.18", "3.10-dev"):
        _fake(root / "versions" / name / "bin" / f"python{name[:4].rstrip('.')}", name[:4].rstrip("."))
    places = Places(home=tmp_path / "home", pyenv_root=root, system=())
    found = find_python("3.10", places)
    assert found is not None
    assert found.program == root / "versions" / "3.10.13" / "bin" / "python3.10"
    assert found.version == "3.10"


def test_a_shim_that_does_not_run_is_passed_over(tmp_path: Path) -> None:
    """A pyenv shim on PATH for a version not enabled (exit 127) is skipped for the one in ~/.pyenv."""
    _fake(tmp_path / "shims" / "python3.12", "pyenv: python3.12: command not found", status=127)
    real = _fake(tmp_path / "home" / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3.12", "3.12")
    places = Places(home=tmp_path / "home", path=str(tmp_path / "shims"), system=())
    found = find_python("3.12", places)
    assert found is not None and found.program == real


def test_a_shim_that_runs_is_named_by_its_real_program(tmp_path: Path) -> None:
    """An interpreter that reports its sys.executable (a pyenv shim of an enabled version) is
    named, in the build log and for the virtual environment, by that real program."""
    real = tmp_path / "versions" / "3.12.1" / "bin" / "python3.12"
    _fake(tmp_path / "shims" / "python3.12", f"3.12 {real}")
    found = find_python("3.12", Places(home=tmp_path / "home", path=str(tmp_path / "shims"), system=()))
    assert found is not None and found.program == real and found.version == "3.12"


def test_uv_and_system_interpreters_are_found(tmp_path: Path) -> None:
    """uv's cpython-3.13.* install is found, and /usr/bin-like folders after it; a free-threaded
    build is not taken for the normal one."""
    uv = tmp_path / "home" / ".local" / "share" / "uv" / "python"
    _fake(uv / "cpython-3.13.1+freethreaded-linux-x86_64-gnu" / "bin" / "python3.13", "3.13")
    installed = _fake(uv / "cpython-3.13.0-linux-x86_64-gnu" / "bin" / "python3.13", "3.13")
    system = _fake(tmp_path / "usr-bin" / "python3.13", "3.13")
    places = Places(home=tmp_path / "home", system=(tmp_path / "usr-bin",))
    assert toolchain.python_candidates("3.13", places) == [installed, system]
    found = find_python("3.13", places)
    assert found is not None and found.program == installed
    assert find_python("3.13", Places(home=tmp_path / "nowhere", system=(tmp_path / "usr-bin",))) is not None
    assert find_python("3.8", places) is None


def test_a_program_reporting_another_version_is_not_taken(tmp_path: Path) -> None:
    """A `python3.10` that says it is 3.11 (a wrong link) is not Python 3.10."""
    _fake(tmp_path / "bin" / "python3.10", "3.11")
    assert find_python("3.10", Places(home=tmp_path, system=(tmp_path / "bin",))) is None


def test_missing_version_falls_back_with_a_true_warning(tmp_path: Path) -> None:
    """Without Python 3.10 anywhere, the local python3 is used, and the warning names both versions."""
    local = _fake(tmp_path / "bin" / "python3", "3.11")
    interpreter, warning = choose_python("3.10", Places(home=tmp_path, path=str(tmp_path / "bin"), system=()))
    assert interpreter.program == local and interpreter.version == "3.11"
    assert warning is not None
    assert "Python 3.10, which is not installed here" in warning
    assert f"using {local} (Python 3.11)" in warning


def test_nvm_node_of_the_major_version(tmp_path: Path) -> None:
    """nvm's newest v18.* is found for `nodejs:18`; none for a major nvm does not have."""
    nvm = tmp_path / "nvm" / "versions" / "node"
    for name in ("v18.2.0", "v18.19.1", "v20.11.0"):
        _fake(nvm / name / "bin" / "node", name)
    places = Places(home=tmp_path / "home", nvm_dir=tmp_path / "nvm")
    found = find_node("18", places)
    assert found is not None
    assert found.program == nvm / "v18.19.1" / "bin" / "node" and found.version == "18.19.1"
    assert find_node("22", places) is None


def _other_python() -> str | None:
    """A Python X.Y installed on this machine other than the one running the tests, if any."""
    places = Places.of_this_machine()
    for minor in (10, 12, 13, 9):
        version = f"3.{minor}"
        if version != RUNNING and find_python(version, places) is not None:
            return version
    return None


OTHER = _other_python()

CONFIG = """\
applications:
  app:
    type: "python:{version}"
    hooks:
      build: |
        python{version} -c "import sys; print('%d.%d' % sys.version_info[:2])" > hook-python.txt
        python3 -c "import sys; print(sys.prefix)" > hook-prefix.txt
    web:
      commands:
        start: "python -m http.server $PORT"
"""


@pytest.mark.skipif(OTHER is None, reason="needs a second Python X.Y on this machine (pyenv, uv, /usr/bin)")
def test_build_and_instances_use_the_installed_version(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """`type: python:X.Y` with X.Y installed beside the running Python: the build hook's
    `pythonX.Y` runs, the virtual environment is X.Y, the instances' PATH has it, and the build
    log names the interpreter."""
    assert OTHER is not None
    root = make_project({".upsun/config.yaml": CONFIG.format(version=OTHER)})
    loaded = read_config(root)
    app = resolve_project(loaded, HostFacts.for_project(root)).apps[0]
    said: list[str] = []
    log = tmp_path / "build.log"
    result = build_app(
        app,
        project_root=root,
        builds_dir=tmp_path / "builds",
        log_path=log,
        variables={},
        project="p1",
        progress=said.append,
    )
    assert (result.app_dir / "hook-python.txt").read_text().strip() == OTHER
    assert (result.app_dir / "hook-prefix.txt").read_text().strip().startswith(str(tmp_path / "builds"))
    assert not any(line.startswith("warning:") for line in said), said
    expected = find_python(OTHER, Places.of_this_machine())
    assert expected is not None
    logged = log.read_text()
    assert f"creating a Python {OTHER} virtual environment with {expected.program}" in logged
    # What an instance gets: the toolchain's PATH in front of its own.
    env = result.toolchain.apply({"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")})
    for name in (f"python{OTHER}", "python3", "python"):
        ran = subprocess.run(
            [name, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert ran.stdout.strip() == OTHER, name


def test_nodejs_uses_nvm_when_the_local_node_is_another_major(tmp_path: Path) -> None:
    """`nodejs:20` with a local node 18 and nvm's v20.11.0: nvm's bin goes first on PATH, no
    warning; `nodejs:18` keeps the local node; `nodejs:22` warns naming both versions."""
    local = _fake(tmp_path / "bin" / "node", "v18.19.0")
    _fake(tmp_path / "nvm" / "versions" / "node" / "v20.11.0" / "bin" / "node", "v20.11.0")
    places = Places(home=tmp_path / "home", path=str(tmp_path / "bin"), nvm_dir=tmp_path / "nvm")
    said: list[str] = []
    assert toolchain.choose_node("20", places, said.append) == (
        [str(tmp_path / "nvm" / "versions" / "node" / "v20.11.0" / "bin")],
        None,
    )
    assert "Node.js 20.11.0" in said[-1]
    assert toolchain.choose_node("18", places, said.append) == ([], None)
    path, warning = toolchain.choose_node("22", places, said.append)
    assert path == [] and warning is not None
    assert "Node.js 22, which is not installed here" in warning and f"using {local} (Node.js 18.19.0)" in warning
