"""`sunup routes`, `sunup url` and `sunup route:get`: the project's URLs on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.cli import main
from sunup.router.address import read_address

CONFIG = """\
applications:
  app:
    type: "python:3.12"
    web:
      commands: {start: "python -m http.server $PORT"}
  api:
    type: "python:3.12"
    source: {root: api}
    web:
      commands: {start: "python -m http.server $PORT"}
routes:
  "https://{default}/":
    type: upstream
    upstream: "app:http"
    id: main
  "https://api.{default}/":
    type: upstream
    upstream: "api:http"
    id: api
  "https://www.{default}/":
    type: redirect
    to: "https://{default}/"
"""


@pytest.fixture
def project(make_project: Callable[..., Path]) -> Path:
    root = make_project({".upsun/config.yaml": CONFIG, "api/server.py": ""})
    state = root / ".sunup"
    state.mkdir(exist_ok=True)
    (state / "router.json").write_text('{"http_port": 28080, "https_port": 28443}\n')
    return root


def sunup(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "NO_COLOR": "1", "COLUMNS": "200", "HOME": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "sunup", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_url_prints_the_primary_url_and_nothing_else(project: Path) -> None:
    """`sunup url` prints one line, the primary route's local URL with the kept HTTPS port."""
    result = sunup(project, "url")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "https://localhost:28443/\n"
    assert result.stderr == ""


def test_routes_lists_every_route_with_its_target_and_the_ca(project: Path) -> None:
    """The table has each resolved URL, its type, upstream or target, id, primary and template."""
    result = sunup(project, "routes")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["URL", "TYPE", "TO", "ID", "PRIMARY", "ORIGINAL_URL"]
    rows = [line.split() for line in lines[1:]]
    assert rows[0] == ["https://localhost:28443/", "upstream", "app:http", "main", "yes", "https://{default}/"]
    assert rows[1] == ["https://api.localhost:28443/", "upstream", "api:http", "api", "https://api.{default}/"]
    assert rows[2] == ["https://www.localhost:28443/", "redirect", "https://localhost:28443/", "https://www.{default}/"]
    assert [
        "http://localhost:28080/",
        "redirect",
        "https://localhost:28443/",
        "http://{default}/",
        "(generated)",
    ] in rows
    assert len(rows) == 6
    assert f"trust {project / '.local/share/sunup/ca/ca.pem'}" in result.stderr


def test_routes_json_is_platform_routes(project: Path) -> None:
    """`--json` gives the CA file and PLATFORM_ROUTES decoded, keyed by local URL."""
    result = sunup(project, "routes", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ca_file"].endswith("ca.pem")
    main_route = document["routes"]["https://localhost:28443/"]
    assert (main_route["id"], main_route["upstream"], main_route["primary"]) == ("main", "app", True)
    assert document["routes"]["http://api.localhost:28080/"]["to"] == "https://api.localhost:28443/"


def test_route_get_by_id_template_or_url(project: Path) -> None:
    """`route:get` finds a route by id, template or local URL; `-P` prints one property."""
    by_id = sunup(project, "route:get", "api", "--json")
    assert by_id.returncode == 0, by_id.stderr
    assert json.loads(by_id.stdout)["url"] == "https://api.localhost:28443/"
    assert sunup(project, "route:get", "https://www.{default}/", "-P", "to").stdout == "https://localhost:28443/\n"
    assert sunup(project, "route:get", "http://localhost:28080/", "-P", "type").stdout == "redirect\n"
    assert sunup(project, "route:get", "https://api.{default}", "-P", "id").stdout == "api\n"


def test_route_get_unknown_says_which_there_are(project: Path) -> None:
    """An unknown route exits 2 naming the route ids; an unknown property names the properties."""
    unknown = sunup(project, "route:get", "nope")
    assert unknown.returncode == 2
    assert "no route is 'nope'" in unknown.stderr and "route ids: main, api" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    bad_property = sunup(project, "route:get", "main", "-P", "nope")
    assert bad_property.returncode == 2 and "properties: url, primary" in bad_property.stderr


def test_ports_are_chosen_and_kept_when_none_were(make_project: Callable[..., Path]) -> None:
    """Without a kept address, `sunup url` chooses the ports, keeps them, and prints the same URL again."""
    root = make_project({".upsun/config.yaml": "applications:\n  app:\n    type: 'python:3.12'\n"})
    first = sunup(root, "url")
    assert first.returncode == 0, first.stderr
    kept = read_address(root / ".sunup")
    assert kept is not None
    assert first.stdout == f"https://localhost:{kept.https_port}/\n"
    assert sunup(root, "url").stdout == first.stdout


def test_url_open_uses_a_browser_or_says_it_cannot(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--open` opens the primary URL in a browser; without one it says so and exits 1."""
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(project), "url", "--open"])
    assert exited.value.code == 0
    assert opened == ["https://localhost:28443/"]
    capsys.readouterr()
    monkeypatch.setattr(webbrowser, "open", lambda url: False)
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(project), "url", "--open"])
    out = capsys.readouterr()
    assert exited.value.code == 1
    assert out.out == "https://localhost:28443/\n"
    assert "no web browser" in out.err
