"""Write docs/dashboard.png: the live dashboard of the seed example (examples/workers).

    .venv/bin/python docs/screenshot.py [--out docs/dashboard.png] [--wait 30]

Copies the example's project files to a temporary folder, starts it with `sunup up -d` (its
build, MariaDB and RabbitMQ included), posts a few jobs to its web app so the workers print,
opens `sunup dashboard`'s URL in headless Chromium (Debian's /usr/bin/chromium, through
Playwright), waits `--wait` seconds for the charts to have a few samples, takes the picture and
stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sunup.dashboard.chromium import ARGS, CHROMIUM

REPO = Path(__file__).resolve().parent.parent


def sunup(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SUNUP_STATE_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "sunup", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def post_jobs(project: Path, count: int) -> None:
    """A few requests to web.0, so that the queue worker has something to print."""
    rows = json.loads(sunup(project, "ps", "--json").stdout)
    port = next((r["port"] for r in rows if r["name"] == "web.0"), None)
    if port is None:
        return
    for number in range(count):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/jobs",
            data=json.dumps({"email": f"user{number}@example.com"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError as exc:
            print(f"a job was refused: {exc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds of samples before the picture")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="sunup-screenshot-") as folder:
        project = Path(folder) / "workers"
        ignore = shutil.ignore_patterns(".sunup", ".git", "__pycache__")
        shutil.copytree(REPO / "examples" / "workers", project, symlinks=True, ignore=ignore)
        started = sunup(project, "up", "-d")
        try:
            if started.returncode != 0:
                print(started.stdout, started.stderr, file=sys.stderr)
                return 1
            link = sunup(project, "dashboard").stdout.strip()
            with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    profile,
                    executable_path=CHROMIUM,
                    args=list(ARGS),
                    headless=True,
                    viewport={"width": 1280, "height": 900},
                )
                page = context.new_page()
                page.goto(link)
                page.wait_for_selector("#link.up", timeout=10_000)
                began = time.monotonic()
                post_jobs(project, 3)
                time.sleep(max(0.0, options.wait - (time.monotonic() - began)))
                post_jobs(project, 2)
                page.wait_for_timeout(1000)
                options.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(options.out), full_page=True)
                context.close()
            print(f"wrote {options.out}")
        finally:
            sunup(project, "down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
