"""`sv` and `systemctl` of an instance shell, against a real supervisor."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sunup.control.shim import run as shim
from tests.control.test_server import serving
from tests.supervisor.harness import run


def test_sv_and_systemctl_act_on_their_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sv stop/start/status and systemctl restart act on $SUNUP_INSTANCE only, runit/systemd style."""

    async def scenario() -> None:
        async with serving(tmp_path) as (supervisor, state, _):
            monkeypatch.setenv("SUNUP_CONTROL_SOCKET", str(state.socket))
            monkeypatch.setenv("SUNUP_INSTANCE", "app.queue.1")
            others = {r["name"]: r["pid"] for r in supervisor.snapshot() if r["name"] != "queue.1"}

            assert await asyncio.to_thread(shim, "sv", ["stop", "app"]) == 0
            assert capsys.readouterr().out.startswith("ok: down: app:")
            assert await asyncio.to_thread(shim, "sv", ["status", "app"]) == 0
            assert capsys.readouterr().out.startswith("down: app:")
            assert await asyncio.to_thread(shim, "systemctl", ["status", "app"]) == 3
            capsys.readouterr()
            assert await asyncio.to_thread(shim, "sv", ["start", "app"]) == 0
            assert capsys.readouterr().out.startswith("ok: run: app: (pid")
            assert await asyncio.to_thread(shim, "systemctl", ["restart", "--user", "app.service"]) == 0
            assert {r["name"]: r["pid"] for r in supervisor.snapshot() if r["name"] != "queue.1"} == others

    run(scenario())


def test_unknown_service_and_usage_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the service `app` exists; wrong usage and a missing instance say so, like runit/systemd."""
    assert shim("sv", ["restart", "nginx"]) == 1
    assert "unable to change to service directory" in capsys.readouterr().err
    assert shim("systemctl", ["restart", "nginx"]) == 4
    assert "could not be found" in capsys.readouterr().err
    assert shim("sv", ["explode", "app"]) == 1
    monkeypatch.delenv("SUNUP_INSTANCE", raising=False)
    assert shim("sv", ["status", "app"]) == 1
    assert "not inside a sunup instance" in capsys.readouterr().err
