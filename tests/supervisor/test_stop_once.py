"""A stop delivers SIGTERM once to each process: a shell's TERM trap runs once, not twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sunup.supervisor.instance import InstanceId
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.testing import instance_spec
from tests.supervisor.harness import run, supervising, until

QUEUE0 = InstanceId("app", "queue", 0)


@pytest.mark.parametrize("backend", [None, "none"], ids=["cgroups", "process-tree"])
def test_term_trap_runs_once_and_stop_takes_its_one_second(tmp_path: Path, backend: str | None) -> None:
    """An instance whose TERM trap needs 1 s is stopped in about 1 s, its trap run exactly once."""
    traps = tmp_path / "traps"
    ready = tmp_path / "ready"
    spec = instance_spec(
        f"trap 'echo trap >> {traps}; sleep 1; exit 0' TERM; touch {ready}; sleep 1000 & wait",
        tmp_path,
    )

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], backend=backend, grace=10) as (supervisor, _events):
            await until(
                supervisor, lambda: supervisor.state(QUEUE0) is InstanceState.RUNNING and ready.exists(), "ready"
            )
            began = time.monotonic()
            await supervisor.stop_all()
            took = time.monotonic() - began
            assert 0.9 <= took < 1.8, f"stop took {took:.2f} s"

    run(scenario())
    assert traps.read_text().splitlines() == ["trap"], "SIGTERM must reach the shell once"
