"""The one-supervisor lock and the state folder layout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sunup.errors import RuntimeFailure
from sunup.supervisor.statedir import StateDir, SupervisorLock, holder


def test_second_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """While one supervisor holds the lock, another is refused with its pid and a hint."""
    state = StateDir(tmp_path / ".sunup")
    first = SupervisorLock(state)
    first.acquire()
    try:
        assert holder(state) == os.getpid()
        with pytest.raises(RuntimeFailure) as caught:
            SupervisorLock(state).acquire()
        assert f"pid {os.getpid()}" in caught.value.message
        assert caught.value.hint and "sunup down" in caught.value.hint
    finally:
        first.release()
    assert holder(state) is None


def test_lock_of_a_killed_supervisor_is_free(tmp_path: Path) -> None:
    """A lock file left by a process that died does not block the next supervisor."""
    state = StateDir(tmp_path / ".sunup")
    code = (
        "import sys; from pathlib import Path; from sunup.supervisor.statedir import StateDir, SupervisorLock;"
        f"SupervisorLock(StateDir(Path({str(state.root)!r}))).acquire(); sys.stdout.write('held'); sys.stdout.flush();"
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=30)
    assert result.stdout == "held"
    assert holder(state) is None
    SupervisorLock(state).acquire()


def test_state_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$SUNUP_STATE_DIR replaces <project>/.sunup."""
    monkeypatch.setenv("SUNUP_STATE_DIR", str(tmp_path / "elsewhere"))
    assert StateDir.for_project(tmp_path / "project").root == tmp_path / "elsewhere"
    monkeypatch.delenv("SUNUP_STATE_DIR")
    assert StateDir.for_project(tmp_path / "project").root == tmp_path / "project" / ".sunup"


def test_unusable_state_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A state folder that cannot be created is a RuntimeFailure with a hint, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RuntimeFailure) as caught:
        SupervisorLock(StateDir(blocker / ".sunup")).acquire()
    assert "cannot use the state folder" in caught.value.message
    assert caught.value.hint and "SUNUP_STATE_DIR" in caught.value.hint
